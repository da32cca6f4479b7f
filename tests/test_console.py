"""Output for people (avflow.console): human log lines, the JSON rule, progress bars."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from avflow import console
from avflow.app import configure_logging

RUN_DONE = {
    "event": "run finished",
    "status": "succeeded",
    "client": "acme",
    "workflow": "inbox",
    "run": "abc",
    "timestamp": "2026-12-05T22:30:05Z",
    "level": "info",
}


@pytest.fixture(autouse=True)
def plain() -> Iterator[None]:
    console.set_zones({"acme": "Europe/Rome", "bloom": "America/New_York"})
    console.setup(utc=False, color=False, bars=False)
    yield
    console.setup(utc=False, color=False, bars=False)


def test_a_run_line_in_the_clients_zone() -> None:
    line = console.render(None, "info", dict(RUN_DONE))
    assert line == "23:30:05 CET  acme/inbox               ✓ run succeeded"
    bloom = console.render(None, "info", {**RUN_DONE, "client": "bloom"})
    assert bloom.startswith("17:30:05 EST  bloom/inbox")
    console.setup(utc=True, color=False, bars=False)
    assert console.render(None, "info", dict(RUN_DONE)).startswith("22:30:05 UTC  acme/inbox")


def test_steps_errors_and_sentences() -> None:
    failed = {**RUN_DONE, "event": "step failed", "step": "triage", "error": "IMAP down"}
    failed["level"] = "error"
    assert console.render(None, "error", dict(failed)).endswith("  step triage failed: IMAP down")
    said = {"event": "next firing", "said": "next: acme/inbox Mon 09:00 CET (Rome)"}
    assert console.render(None, "info", {**said, "timestamp": "2026-12-05T22:30:05Z"}).endswith(
        "  next: acme/inbox Mon 09:00 CET (Rome)"
    )
    other = console.render(None, "info", {"event": "files filed", "filed": 2, "client": "acme"})
    assert other.endswith("acme                     files filed  filed=2")


def test_errors_are_red_on_a_terminal() -> None:
    console.setup(color=True, bars=False)
    failed = {**RUN_DONE, "status": "failed", "error": "step x: boom", "level": "warning"}
    line = console.render(None, "warning", failed)
    assert "\x1b[31m" in line and "✗ run failed: step x: boom" in line
    ok = console.render(None, "info", dict(RUN_DONE))
    assert "\x1b[32m" in ok  # green


def test_json_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVFLOW_LOG_FORMAT", raising=False)
    assert console.wants_json(None) is False
    assert console.wants_json("json") is True
    monkeypatch.setenv("AVFLOW_LOG_FORMAT", "json")
    assert console.wants_json(None) is True
    assert console.wants_json("human") is False


def test_configured_logging_prints_human_lines_or_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AVFLOW_LOG_FORMAT", raising=False)
    try:
        configure_logging("info")
        structlog.get_logger("t").info(
            "run started", client="acme", workflow="inbox", trigger="demo"
        )
        human = capsys.readouterr().err.strip()
        assert human.endswith("acme/inbox               ▶ run started (demo)"), human
        configure_logging("info", True)
        structlog.get_logger("t").info("run started", client="acme", workflow="inbox")
        record = json.loads(capsys.readouterr().err)
        assert record["event"] == "run started" and record["client"] == "acme"
    finally:
        configure_logging("info", True)


def test_progress_does_nothing_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with console.progress("work", total=3) as bar:
        bar.advance()
        bar.set(3)
    assert bar.done == 3
    assert list(console.track([1, 2], "loop")) == [1, 2]
    assert capsys.readouterr() == ("", "")


def in_a_terminal(args: list[str], env: dict[str, str], timeout: float = 120.0) -> str:
    """Run ``args`` with stdout and stderr on a pseudo-terminal; what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(10)
    os.close(master)
    return out.decode(errors="replace")


def test_audit_verify_draws_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "workflows/acme").mkdir(parents=True)
    (tmp_path / "workflows/acme/client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    (tmp_path / "workflows/acme/hello.yaml").write_text(
        "steps: [{uses: core.log, with: {message: hello}}]\n"
    )
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("AVFLOW_LOG_FORMAT", None)
    base = [sys.executable, "-m", "avflow", "--workflows", str(tmp_path / "workflows")]
    base += ["--home", str(tmp_path / "home")]
    done = subprocess.run([*base, "trigger", "acme/hello"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shown = in_a_terminal([*base, "audit", "verify", "acme"], env)
    assert "verifying acme's trail" in shown and "OK: client acme" in shown, shown
    assert "━" in shown, shown  # the bar itself
    plain = subprocess.run(
        [*base, "audit", "verify", "acme"], env=env, capture_output=True, text=True
    )
    assert plain.returncode == 0 and "verifying" not in plain.stdout + plain.stderr
