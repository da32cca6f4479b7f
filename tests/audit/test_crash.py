"""A run killed with SIGKILL in the middle of an effect leaves a trail that verifies, before and after resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from avflow.testing import Harness

PLUGINS = Path(__file__).parent / "plugins"


def test_killed_run_then_resumed_keeps_a_verifiable_trail(
    audit_harness: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    h = audit_harness
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    h.client("acme", name="Acme", timezone="Europe/Rome")
    h.workflow(
        "acme",
        "inbox",
        {
            "steps": [
                {"id": "triage", "uses": "demo.mail", "with": {"count": 3, "mailbox": str(mailbox)}}
            ]
        },
    )
    assert cli("audit", "pubkey").code == 0  # (the key exists before the killed process uses it)
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", "AUDITDEMO_KILL_AFTER": "2"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "avflow",
            "--workflows",
            str(h.workflows),
            "--home",
            str(h.home),
            "--plugins-dir",
            str(PLUGINS),
            "trigger",
            "acme/inbox",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (mailbox / "moved.log").read_text().split() == ["1", "2"]

    killed = cli(
        "audit", "verify", "acme"
    )  # cut mid-run: no seal over the last records, nothing lost
    assert killed.code == 0, killed.out + killed.err
    events = [r["event"] for r in h.audit("acme")]
    assert events == ["run.started", "effect.intent", "effect.done", "effect.intent"]

    resumed = cli("resume")
    assert resumed.code == 0, resumed.out + resumed.err
    assert (mailbox / "moved.log").read_text().split() == ["1", "2", "3"]  # move 2 was not repeated
    records = h.audit("acme")
    reconciled = [r for r in records if r["event"] == "effect.reconciled"]
    assert [(r["effect"], r["details"]["found"]) for r in reconciled] == [("move:2", True)]
    assert (
        records[-1]["event"] == "run.finished" and records[-1]["details"]["status"] == "succeeded"
    )
    assert (
        json.loads((h.home / "audit" / "acme" / "seal.json").read_text())["seq"]
        == records[-1]["seq"]
    )
    ok = cli("audit", "verify", "acme")
    assert ok.code == 0, ok.out + ok.err

    from avflow.audit.report import build

    first = datetime.fromisoformat(records[0]["time"].replace("Z", "+00:00"))
    month = first.astimezone(ZoneInfo("Europe/Rome")).strftime("%Y-%m")
    report = build(h.home / "audit" / "acme", "acme", "Acme", "Europe/Rome", month)
    assert report.totals.effects == {"email.move": 3}
    assert [e.outcome for e in report.effects] == ["done", "confirmed", "done"]
