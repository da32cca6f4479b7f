"""``calendar.book`` with ``approval:``: the step asks before booking, through the public
``ctx.request_approval``; approved, it books exactly what was shown, once; rejected, nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from calhelp import ics
from test_book import BUSY, events, setup

from avflow.testing import SimulatedCrash

APPROVAL = {
    "summary": "Book the intro call for {{ client.name }}?",
    "timeout": "4h",
    "default": "reject",
}
HAIRDRESSER = (
    ics(
        """UID:own@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260310T143000
DTEND;TZID=Europe/Rome:20260310T150000
SUMMARY:Hairdresser"""
    )
    .split("PRODID:-//test//EN\r\n", 1)[1]
    .replace("END:VCALENDAR\r\n", "")
)
AVFLOW = Path(sys.executable).parent / "avflow"


def test_approved_books_what_was_shown_once(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    cal = h.workflows / "acme" / "cal.ics"
    waiting = h.run(ref)
    assert waiting.status == "waiting", waiting.error
    assert len(events(cal)) == 1  # nothing booked while it waits
    [asked] = h.approvals("acme")
    assert asked.summary == "Book the intro call for Acme?"  # a template
    assert asked.preview == [
        "book 'Intro call' on Tue 10 Mar 2026, 14:00-14:45 CET in calendar cal",
        "attendees: anna@example.com",
    ]
    assert asked.deadline is not None and asked.default == "reject"
    done = h.decide(asked.id, by="maria")
    assert done is not None and done.status == "succeeded", done and done.error
    assert done.outputs["book"]["status"] == "booked"
    assert [str(e["SUMMARY"]) for e in events(cal)] == ["Dentist", "Intro call"]
    assert h.approvals("acme") == []
    decided = [r for r in h.audit("acme") if r["event"] == "approval.decided"]
    assert [r["details"]["by"] for r in decided] == ["maria"]


def test_short_form_asks_with_the_plugins_summary(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=True)
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("acme")
    assert asked.summary == "Book 'Intro call' on Tue 10 Mar 2026, 14:00-14:45 CET in cal?"
    assert asked.deadline is None and asked.default is None


def test_rejected_books_nothing(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("acme")
    done = h.decide(asked.id, approve=False, reason="wrong patient")
    assert done is not None and done.status == "rejected"
    assert [str(e["UID"]) for e in events(h.workflows / "acme" / "cal.ics")] == ["dentist@test"]
    assert not done.effects


def test_slot_taken_while_waiting_fails_clearly_and_books_nothing(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    assert h.run(ref).status == "waiting"
    cal = h.workflows / "acme" / "cal.ics"
    # meanwhile the client books 14:30 herself, in her own calendar app
    cal.write_text(BUSY.replace("END:VCALENDAR", HAIRDRESSER + "END:VCALENDAR"))
    [asked] = h.approvals("acme")
    done = h.decide(asked.id)
    assert done is not None and done.status == "failed"
    assert "Tue 10 Mar 2026, 14:00-14:45 CET is not free" in (done.error or "")
    assert sorted(str(e["UID"]) for e in events(cal)) == ["dentist@test", "own@test"]


def test_busy_slot_fails_before_anyone_is_asked(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL, start="2026-03-10T10:30")
    result = h.run(ref)
    assert result.status == "failed" and "is not free" in (result.error or "")
    assert h.approvals("acme") == []


def test_booking_edited_while_waiting_is_asked_for_again(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    assert h.run(ref).status == "waiting"
    [first] = h.approvals("acme")
    setup(h, fresh=False, approval=APPROVAL, title="Second visit")  # the workflow edited
    again = h.decide(first.id)
    assert again is not None and again.status == "waiting"  # not booked on the old approval
    cal = h.workflows / "acme" / "cal.ics"
    assert len(events(cal)) == 1
    [second] = h.approvals("acme")
    assert second.id != first.id and "'Second visit'" in second.preview[0]
    done = h.decide(second.id)
    assert done is not None and done.status == "succeeded", done and done.error
    assert [str(e["SUMMARY"]) for e in events(cal)] == ["Dentist", "Second visit"]


def test_crash_after_approval_resumes_and_books_once(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("acme")
    h.crash_at(1, "after")  # the booking made, the process dead before its outcome is recorded
    with pytest.raises(SimulatedCrash):
        h.decide(asked.id)
    [resumed] = h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert [str(e["SUMMARY"]) for e in events(h.workflows / "acme" / "cal.ics")] == [
        "Dentist",
        "Intro call",
    ]


def test_dry_run_does_not_wait(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=APPROVAL)
    dry = h.run(ref, dry_run=True)
    assert dry.status == "succeeded" and dry.outputs["book"]["status"] == "would_book"
    assert h.approvals("acme") == []
    assert any("would ask for approval" in (r.get("description") or "") for r in dry.audit)


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ({"summary": "ok?", "timeout": "1.5d"}, "whole working days"),
        ({"default": "reject"}, "default needs a timeout"),
        ({"timeout": "4h", "default": "maybe"}, "default"),
        ({"summary": "ok?", "when": "now"}, "when"),
        (False, "write true, or a mapping"),
    ],
)
def test_validate_names_the_line(avflow_harness, approval, message) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, approval=approval)
    done = subprocess.run(
        [str(AVFLOW), "--workflows", str(h.workflows), "--home", str(h.home), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if "book.yaml:" in x]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
