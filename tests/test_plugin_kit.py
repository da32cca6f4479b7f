"""The plugin kit as a plugin author uses it: `avflow plugin new`, a fresh virtual environment
with avflow (this checkout) and the new plugin installed by pip, the plugin's own tests run
there, and its action used from a workflow through the `avflow` command of that environment."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def clean_env() -> dict[str, str]:
    """The environment of a person's shell: nothing of this test run's avflow or venv."""
    drop = ("AVFLOW_", "PYTHONPATH", "VIRTUAL_ENV", "PYTEST_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.mark.slow
def test_a_scaffolded_plugin_installs_passes_its_tests_and_runs_in_a_workflow(
    tmp_path: Path,
) -> None:
    env = clean_env()
    run([sys.executable, "-m", "avflow", "plugin", "new", "notes"], tmp_path, env)
    plugin = tmp_path / "avflow-notes"
    assert (plugin / "tests" / "test_notes.py").is_file()

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    py, avflow = str(venv / "bin" / "python"), str(venv / "bin" / "avflow")
    run([py, "-m", "pip", "install", "-q", "-e", str(REPO), "-e", f"{plugin}[test]"], tmp_path, env)
    # the new environment has only what pip put there: no avflow plugin of this checkout
    listed = run([avflow, "--workflows", str(tmp_path / "none"), "plugins"], tmp_path, env)
    assert "notes" in listed and "notes.write_note" in listed and "email" not in listed

    tests = run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin, env)
    assert " passed" in tests and "failed" not in tests and "error" not in tests.lower()
    assert "6 passed" in tests, tests

    workflows, home = tmp_path / "workflows", tmp_path / "home"
    (workflows / "acme").mkdir(parents=True)
    (workflows / "acme" / "client.yaml").write_text(
        "name: Acme S.r.l.\ntimezone: UTC\nlanguage: it\n"
    )
    (workflows / "acme" / "note.yaml").write_text(
        "name: Note\nsteps:\n  - uses: notes.write_note\n    with:\n      folder: notes\n"
        '      name: hello.txt\n      text: "Ciao {{ client.name }}"\n'
    )
    base = [avflow, "--workflows", str(workflows), "--home", str(home)]
    run([*base, "validate"], tmp_path, env)
    run([*base, "trigger", "acme/note"], tmp_path, env)
    assert (workflows / "acme" / "notes" / "hello.txt").read_text() == "Ciao Acme S.r.l."
    month = datetime.now(UTC).strftime("%Y-%m")
    out = run([*base, "audit", "report", "acme", "--month", month, "--no-bundle"], tmp_path, env)
    report = home / "reports" / "acme" / f"acme-activity-{month}.html"
    assert str(report) in out
    html = report.read_text()
    assert "Scritto hello.txt in notes" in html and "Note scritte: 1" in html
    assert str(workflows) not in html
