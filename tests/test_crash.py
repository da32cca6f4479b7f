"""Crash safety of the effect ledger with a real ``avflow`` process killed by SIGKILL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from clikit import child, folders

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"


def avflow(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return child(
        *folders(tmp_path),
        *["--plugins-dir", str(PLUGINS_DIR), "--log-json", *args],
        env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})},
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "workflows" / "acme").mkdir(parents=True)
    (tmp_path / "workflows" / "acme" / "client.yaml").write_text(
        "name: Acme\ntimezone: Europe/Rome\n"
    )
    out = tmp_path / "out"
    (tmp_path / "workflows" / "acme" / "write.yaml").write_text(
        "steps:\n"
        f"  - id: first\n    uses: crashy.write\n    with: {{ folder: {out}, count: 3, prefix: a }}\n"
        f"  - id: second\n    uses: crashy.write\n    with: {{ folder: {out}, count: 3, prefix: b }}\n"
    )
    return tmp_path


def performed(tmp_path: Path) -> list[str]:
    log = tmp_path / "out" / "performed.log"
    return log.read_text().split() if log.exists() else []


ALL = ["a1.txt", "a2.txt", "a3.txt", "b1.txt", "b2.txt", "b3.txt"]


@pytest.mark.parametrize(
    ("var", "k", "before_kill"),
    [
        ("CRASHY_KILL_BEFORE", "1", []),  # before the first intent
        ("CRASHY_KILL_START", "2", ["a1.txt"]),  # intent recorded, nothing performed
        ("CRASHY_KILL_AFTER", "2", ["a1.txt", "a2.txt"]),  # performed, outcome not recorded
        ("CRASHY_KILL_BEFORE", "3", ["a1.txt", "a2.txt"]),  # outcome recorded, before the next
        ("CRASHY_KILL_END", "a", ["a1.txt", "a2.txt", "a3.txt"]),  # all recorded, step not saved
    ],
)
def test_sigkill_then_resume_performs_every_effect_once(
    project: Path, var: str, k: str, before_kill: list[str]
) -> None:
    killed = avflow(project, "trigger", "acme/write", env={var: k})
    assert killed.returncode == -9, killed.stderr
    assert performed(project) == before_kill
    resumed = avflow(project, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "succeeded" in resumed.stdout
    assert sorted(performed(project)) == ALL, "an effect was repeated or lost"
    assert (
        sorted(p.name for p in (project / "out").glob("*.txt") if p.name != "performed.log") == ALL
    )
    again = avflow(project, "resume")
    assert again.stdout.strip() == "no interrupted runs"


def test_kill_in_the_second_step_keeps_the_first_steps_outputs(project: Path) -> None:
    # b-files are written by the second step; kill after its first file.
    env = {"CRASHY_KILL_AFTER": "1"}
    # The first step's a1 would trigger the kill too: use a workflow whose first step has another prefix count.
    wf = project / "workflows" / "acme" / "write.yaml"
    wf.write_text(wf.read_text().replace("count: 3, prefix: a", "count: 0, prefix: a"))
    killed = avflow(project, "trigger", "acme/write", env=env)
    assert killed.returncode == -9
    assert performed(project) == ["b1.txt"]
    resumed = avflow(project, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert performed(project) == ["b1.txt", "b2.txt", "b3.txt"]
    runs = avflow(project, "runs", "--json")
    assert runs.stdout.count('"status": "succeeded"') == 1


@pytest.mark.parametrize(
    ("var", "found", "answer"),
    [
        ("CRASHY_KILL_AFTER", ["mail"], "--done"),  # sent, outcome lost with the process
        ("CRASHY_KILL_START", [], "--not-done"),  # intent recorded, killed before sending
    ],
)
def test_sigkill_in_an_effect_that_cannot_be_checked(
    project: Path, var: str, found: list[str], answer: str
) -> None:
    out = project / "out"
    (project / "workflows" / "acme" / "send.yaml").write_text(
        f"steps:\n  - id: send\n    uses: crashy.send\n    with: {{ folder: {out} }}\n"
        "    retry: { attempts: 3, backoff: 0 }\n"
    )
    killed = avflow(project, "trigger", "acme/send", env={var: "1"})
    assert killed.returncode == -9, killed.stderr
    sent = out / "sent.log"
    assert (sent.read_text().split() if sent.exists() else []) == found
    resumed = avflow(project, "resume")
    assert resumed.returncode == 1, resumed.stderr
    assert "outcome unknown" in resumed.stdout and "avflow effects resolve" in resumed.stdout
    run = resumed.stdout.split(" run ")[1].split()[0]
    assert (sent.read_text().split() if sent.exists() else []) == found, "repeated blindly"
    settled = avflow(project, "effects", "resolve", run, "send:mail", answer)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert f"run {run} succeeded" in settled.stdout
    assert sent.read_text().split() == ["mail"]
    again = avflow(project, "resume")
    assert again.stdout.strip() == "no interrupted runs"
