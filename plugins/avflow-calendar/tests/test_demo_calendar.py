"""The demo's calendar workflows on a fresh copy of workflows/ (local backends only: the .ics
calendar and the local Maildir): appointment requests get a reply proposing three held slots,
never the same slot twice, once; the daily agenda releases the holds nobody confirmed."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import icalendar
from click.testing import CliRunner

from avflow.cli import build_cli
from avflow.clock import ShiftedClock
from avflow.plugins import PluginManager

DEMO = Path(__file__).resolve().parents[3] / "workflows"
MONDAY = "2026-03-02T09:00:00+00:00"  # 10:00 in Rome


def avflow(root: Path, *args: str, now: str = MONDAY) -> Any:
    result = CliRunner().invoke(
        build_cli(PluginManager(), ShiftedClock(now)),
        ["--workflows", str(root / "workflows"), "--home", str(root / "home"), *args],
    )
    assert result.exit_code == 0, result.output
    return result


def replies(maildir: Path) -> dict[str, list[str]]:
    """Reply subject + recipient -> the slot labels its text proposes."""
    out = {}
    for path in sorted((maildir / ".Outbox").glob("*/*")):
        msg = email.message_from_bytes(path.read_bytes())
        if not str(msg["Subject"]).startswith("Re:"):
            continue
        part = msg if not msg.is_multipart() else msg.get_payload(0)
        text = part.get_payload(decode=True).decode()
        out[f"{msg['In-Reply-To']}"] = re.findall(r"^\s+- (.+)$", text, re.M)
    return out


def holds(calendar: Path) -> list[Any]:
    cal = icalendar.Calendar.from_ical(calendar.read_bytes())
    return [e for e in cal.walk("VEVENT") if str(e.get("STATUS", "")) == "TENTATIVE"]


def test_appointment_requests_get_three_held_slots(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "workflows", ignore=shutil.ignore_patterns("data"))
    seeded = subprocess.run(
        [sys.executable, str(tmp_path / "workflows" / "_samples" / "seed.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "ok:" in avflow(tmp_path, "validate").output
    maildir = tmp_path / "workflows" / "acme" / "data" / "Maildir"
    calendar = tmp_path / "workflows" / "acme" / "data" / "calendar.ics"
    avflow(tmp_path, "trigger", "acme/inbox")
    answered = replies(maildir)
    assert len(answered) >= 2  # the sample mail holds several appointment requests
    labels = [label for slots in answered.values() for label in slots]
    assert all(len(slots) == 3 for slots in answered.values()), answered
    assert len(set(labels)) == len(labels)  # no slot is proposed to two requests
    assert all(
        label.startswith(("Tue 03 Mar", "Wed 04 Mar", "Thu 05", "Fri 06")) for label in labels
    )
    held = holds(calendar)
    assert len(held) == len(labels)
    held_at = sorted(e["DTSTART"].dt.astimezone().strftime("%Y%m%d%H%M") for e in held)
    assert len(set(held_at)) == len(held_at)
    assert not list((maildir / ".Appuntamenti").glob("*/*"))  # every request was answered
    assert len(list((maildir / ".Proposte").glob("*/*"))) == len(answered)
    # Another run: nothing new to answer, nothing held twice.
    avflow(tmp_path, "trigger", "acme/inbox")
    assert replies(maildir) == answered and len(holds(calendar)) == len(labels)
    # Three days later nobody has confirmed: the morning agenda releases every hold.
    digest = avflow(tmp_path, "trigger", "acme/agenda", "--json", now="2026-03-05T07:00:00+00:00")
    assert holds(calendar) == []
    assert f'"count": {len(labels)}' in digest.output  # release_holds' count
