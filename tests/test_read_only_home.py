"""Commands that only read state create nothing: a mistyped ``--home`` (or ``AVFLOW_HOME``)
leaves no stray home folder and no state.db; the command answers as for an empty home and
names the folder it looked in, with why there is nothing there (docs/operations.md). Commands
that write still create what they need. Real processes, as the AV runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from clikit import child


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    acme = tmp_path / "workflows" / "acme"
    acme.mkdir(parents=True)
    (acme / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    (acme / "hello.yaml").write_text("steps: [{uses: core.log, with: {message: hi}}]\n")
    return tmp_path


def avflow(root: Path, *args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", "XDG_DATA_HOME": str(root / "xdg")}
    if home is not None:
        env["AVFLOW_HOME"] = home
    workflows = ["--workflows", str(root / "workflows")]
    return child(*workflows, *args, env=env, drop=["AVFLOW_HOME", "AVFLOW_WORKFLOWS"], cwd=root)


def files(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


HOW = ["--home", "AVFLOW_HOME"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    ("args", "out"),
    [
        (("runs",), "no runs yet\n"),
        (("runs", "acme"), "no runs yet\n"),
        (("approvals",), "no approvals waiting\n"),
        (("status",), None),
        (("resume",), "no interrupted runs\n"),  # it writes only when there is a run to finish
    ],
)
def test_a_reader_with_a_mistyped_home_creates_nothing_and_names_it(
    proj: Path, how: str, args: tuple[str, ...], out: str | None
) -> None:
    typo = proj / "hmoe"
    before = files(proj)
    if how == "--home":
        r = avflow(proj, "--home", str(typo), *args)
    else:
        r = avflow(proj, *args, home=str(typo))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == f"home: {typo} ({how}; it does not exist)", r.stderr
    if out is not None:
        assert r.stdout == out
    else:
        assert "service: never started for this home folder" in r.stdout
        assert "acme/hello" in r.stdout and "never run" in r.stdout
    assert files(proj) == before  # no home, no state.db, no lock: nothing at all


def test_a_reader_of_a_home_that_holds_no_state_db_says_so_and_adds_nothing(proj: Path) -> None:
    home = proj / "empty-home"
    home.mkdir()
    for args in (("runs",), ("approvals",), ("status",)):
        r = avflow(proj, "--home", str(home), *args)
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines()[0] == (
            f"home: {home} (--home; it has no state.db: nothing has run with it yet)"
        )
    assert list(home.iterdir()) == []


def test_status_json_names_the_missing_home_and_creates_nothing(proj: Path) -> None:
    before = files(proj)
    r = avflow(proj, "--home", str(proj / "hmoe"), "status", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["home"] == str(proj / "hmoe") and report["home_missing"] == "it does not exist"
    assert report["service"]["running"] is False
    assert files(proj) == before


@pytest.mark.parametrize(
    "args",
    [
        ("effects", "show", "0123abcd"),
        ("audit", "show", "acme"),
        ("audit", "verify", "acme"),
        ("audit", "export", "acme"),
        ("audit", "report", "acme"),  # writers, but with no trail there is nothing to write
        ("audit", "prune", "acme", "--before", "2020-01", "--yes"),
    ],
)
def test_a_reader_asked_for_something_refuses_in_one_line_and_creates_nothing(
    proj: Path, args: tuple[str, ...]
) -> None:
    typo = proj / "hmoe"
    before = files(proj)
    r = avflow(proj, "--home", str(typo), *args)
    assert r.returncode == 2, r
    [line] = r.stderr.splitlines()
    assert str(typo) in line and "Traceback" not in r.stderr
    if args[0] == "effects":
        assert line == (
            f"error: no run '0123abcd' in the home folder {typo} (--home): it does not exist "
            "(see `avflow runs`)"
        )
    assert files(proj) == before


def test_a_home_that_is_a_file_is_still_refused_by_a_reader(proj: Path) -> None:
    (proj / "afile").write_text("x")
    r = avflow(proj, "--home", str(proj / "afile"), "runs")
    assert r.returncode == 2
    assert r.stderr == f"error: cannot use {proj / 'afile'} as the home folder: not a folder\n"


def test_writers_still_create_the_home_and_readers_then_read_it(proj: Path) -> None:
    home = proj / "new-home"
    r = avflow(proj, "--home", str(home), "trigger", "acme/hello")
    assert r.returncode == 0, r.stderr
    assert (home / "state.db").is_file()
    runs = avflow(proj, "--home", str(home), "runs")
    assert runs.returncode == 0, runs.stderr
    assert runs.stderr.splitlines()[0] == f"home: {home} (--home)"
    assert "acme/hello" in runs.stdout and "succeeded" in runs.stdout


@pytest.mark.parametrize("kind", ["under a file", "link to nowhere"])
def test_a_home_that_can_never_be_a_folder_is_still_refused(proj: Path, kind: str) -> None:
    (proj / "afile").write_text("x")
    home = proj / "afile" / "home"
    if kind == "link to nowhere":
        home = proj / "link"
        home.symlink_to(proj / "gone")
    r = avflow(proj, "--home", str(home), "runs")
    assert r.returncode == 2 and r.stderr.startswith(f"error: cannot use {home} as the home"), r
    assert r.stderr.count("\n") == 1 and not r.stdout


def test_secrets_list_with_none_names_the_home_on_stderr_and_creates_nothing(proj: Path) -> None:
    typo = proj / "hmoe"
    before = files(proj)
    r = avflow(proj, "--home", str(typo), "secrets", "list", "acme")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # the names alone, for scripts
    assert r.stderr == f"no secrets for acme (home: {typo} (--home; it does not exist))\n"
    assert files(proj) == before
