"""One home folder, found the same way by every command: ``--home``, else ``$AVFLOW_HOME``, else
a ``.avflow-home`` folder next to the workflows folder, else the platform default. ``status``
and ``runs`` name the home they read; ``runs`` says when there are none (docs/operations.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from clikit import child

BESIDE = ".avflow-home beside the workflows folder"


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A workflows folder (one client, one workflow) in ``proj/``; the platform default home
    points into ``xdg/`` so a test can see that it was not used."""
    acme = tmp_path / "proj" / "workflows" / "acme"
    acme.mkdir(parents=True)
    (acme / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    (acme / "hello.yaml").write_text("steps: [{uses: core.log, with: {message: hi}}]\n")
    return tmp_path


def avflow(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {
        "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1",
        "XDG_DATA_HOME": str(root / "xdg"),
        **(env or {}),
    }
    drop = ["AVFLOW_HOME", "AVFLOW_WORKFLOWS", "AVFLOW_VAULT_KEY"]
    workflows = ["--workflows", str(root / "proj" / "workflows")]
    return child(*workflows, *args, env=full, drop=drop, cwd=root)


def first_line(err: str) -> str:
    return err.splitlines()[0]


def test_avflow_home_beside_the_workflows_folder_is_read_without_avflow_home(proj: Path) -> None:
    home = proj / "proj" / ".avflow-home"
    home.mkdir()
    done = avflow(proj, "trigger", "acme/hello")
    assert done.returncode == 0, done.stderr
    assert (home / "state.db").is_file() and not (proj / "xdg").exists()
    runs = avflow(proj, "runs")
    assert runs.returncode == 0, runs.stderr
    assert first_line(runs.stderr) == f"home: {home} ({BESIDE})"
    [line] = runs.stdout.splitlines()
    assert "acme/hello" in line and "succeeded" in line
    status = avflow(proj, "status")
    assert status.returncode == 0, status.stderr
    assert first_line(status.stderr) == f"home: {home} ({BESIDE})"
    assert "no runs yet" not in status.stdout and "succeeded" in status.stdout
    report = json.loads(avflow(proj, "status", "--json").stdout)
    assert (report["home"], report["home_from"]) == (str(home), BESIDE)
    assert report["workflows"][0]["last_status"] == "succeeded"
    [row] = [json.loads(x) for x in avflow(proj, "runs", "--json").stdout.splitlines()]
    assert row["status"] == "succeeded"


def test_home_option_and_avflow_home_still_win(proj: Path) -> None:
    (proj / "proj" / ".avflow-home").mkdir()
    assert avflow(proj, "trigger", "acme/hello").returncode == 0
    env_home, opt_home = proj / "env-home", proj / "opt-home"
    by_env = avflow(proj, "runs", env={"AVFLOW_HOME": str(env_home)})
    assert first_line(by_env.stderr) == f"home: {env_home} (AVFLOW_HOME; it does not exist)", (
        by_env.stderr
    )
    assert by_env.stdout == "no runs yet\n"
    by_opt = avflow(proj, "--home", str(opt_home), "runs", env={"AVFLOW_HOME": str(env_home)})
    assert first_line(by_opt.stderr) == f"home: {opt_home} (--home; it does not exist)"
    assert by_opt.stdout == "no runs yet\n"
    status = avflow(proj, "--home", str(opt_home), "status", env={"AVFLOW_HOME": str(env_home)})
    assert first_line(status.stderr) == f"home: {opt_home} (--home; it does not exist)"
    assert "no runs yet" in status.stdout
    assert not opt_home.exists() and not env_home.exists()  # readers create no home


def test_platform_default_when_nothing_else_and_no_runs_yet(proj: Path) -> None:
    runs = avflow(proj, "runs")
    default = proj / "xdg" / "avflow"
    assert runs.returncode == 0, runs.stderr
    assert first_line(runs.stderr) == f"home: {default} (the platform default; it does not exist)"
    assert runs.stdout == "no runs yet\n"
    assert avflow(proj, "runs", "--json").stdout == ""  # JSON lines: none, not a sentence
    typo = avflow(proj, "runs", "acmee")  # a client that has no runs and no folder
    assert typo.returncode == 2 and "unknown client 'acmee'" in typo.stderr and not typo.stdout
    for n in ("0", "-1"):  # not "no runs yet" (0), nor every run (-1: SQLite's no limit)
        bad = avflow(proj, "runs", "-n", n)
        assert bad.returncode == 2 and "--limit" in bad.stderr and not bad.stdout, bad
    status = avflow(proj, "status")
    assert status.returncode == 0, status.stderr
    assert "never started" in status.stdout and "no runs yet" in status.stdout
    assert not (proj / "xdg").exists()  # nothing but readers ran: no home was made


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_avflow_home_that_is_a_link_or_a_file_is_refused_in_one_line(proj: Path, kind: str) -> None:
    beside = proj / "proj" / ".avflow-home"
    elsewhere = proj / "elsewhere"
    elsewhere.mkdir()
    if kind == "symlink":
        beside.symlink_to(elsewhere)
    else:
        beside.write_text("not a folder\n")
    for args in (("runs",), ("status",), ("trigger", "acme/hello")):
        done = avflow(proj, *args)
        assert done.returncode == 2, done
        assert done.stderr.count("\n") == 1 and ".avflow-home" in done.stderr, done.stderr
        assert "--home" in done.stderr and "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == [] and not (proj / "xdg").exists()
    assert avflow(proj, "--home", str(proj / "h"), "runs").returncode == 0  # a way out


@pytest.mark.parametrize("home", ["", "proj", "proj/workflows"])
def test_a_home_holding_the_workflows_folder_is_one_line(proj: Path, home: str) -> None:
    """Not one 'leads into the avflow home folder' per client path: the cause, once
    (``--home "$UNSET"`` is the current folder)."""
    for env in ({}, {"AVFLOW_HOME": str(proj / home)} if home else None):
        if env is None:
            continue
        args = ("validate",) if env else ("--home", home, "validate")
        done = avflow(proj, *args, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "holds the workflows folder" in done.stderr, done.stderr
    assert avflow(proj, "--home", str(proj / "h"), "validate").returncode == 0


def test_a_damaged_state_database_is_one_line_and_left_as_is(proj: Path) -> None:
    home = proj / "h"
    assert avflow(proj, "--home", str(home), "trigger", "acme/hello").returncode == 0
    db = home / "state.db"
    whole = db.read_bytes()
    for damaged in (b"not a database\n", whole[: len(whole) // 2]):
        for name in ("state.db-wal", "state.db-shm"):
            (home / name).unlink(missing_ok=True)
        db.write_bytes(damaged)
        for args in (("runs",), ("status",), ("trigger", "acme/hello")):
            done = avflow(proj, "--home", str(home), *args)
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
            assert "state.db: the state database cannot be read" in done.stderr, done.stderr
        assert db.read_bytes() == damaged
