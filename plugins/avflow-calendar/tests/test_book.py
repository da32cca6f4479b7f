"""``calendar.book`` on a local .ics file: once, re-checked, and never twice."""

from __future__ import annotations

import contextlib

import icalendar
import pytest
from calhelp import calendar_client, ics

from avflow.testing import SimulatedCrash, check_action_contract

BUSY = ics(
    """UID:dentist@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260310T100000
DTEND;TZID=Europe/Rome:20260310T110000
SUMMARY:Dentist"""
)


def events(path) -> list[icalendar.Event]:  # type: ignore[no-untyped-def]
    return list(icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"))


def setup(h, fresh: bool = True, **with_) -> str:  # type: ignore[no-untyped-def]
    if fresh:
        calendar_client(
            h, "acme", "Europe/Rome", {"cal": BUSY}, working_hours={"mon-fri": "09:00-18:00"}
        )
    h.clock.set("2026-03-09T08:00:00+00:00")
    params = {
        "account": "cal",
        "start": "2026-03-10T14:00",
        "duration_minutes": 45,
        "title": "Intro call",
        "attendees": ["anna@example.com"],
        **with_,
    }
    h.workflow("acme", "book", {"steps": [{"id": "book", "uses": "calendar.book", "with": params}]})
    return "acme/book"


def test_book_creates_one_event_with_attendees(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, video_link="https://meet.example/abc")
    result = h.run(ref)
    assert result.status == "succeeded", result.error
    out = result.outputs["book"]
    assert out["status"] == "booked"
    assert out["start"] == "2026-03-10T13:00:00+00:00" and out["end"] == "2026-03-10T13:45:00+00:00"
    cal = h.workflows / "acme" / "cal.ics"
    booked = [e for e in events(cal) if str(e["UID"]) == out["uid"]]
    assert len(booked) == 1 and len(events(cal)) == 2
    ev = booked[0]
    assert str(ev["SUMMARY"]) == "Intro call"
    assert str(ev["URL"]) == "https://meet.example/abc"
    assert str(ev["ATTENDEE"]) == "mailto:anna@example.com"
    assert ev["ATTENDEE"].params["RSVP"] == "TRUE"
    # The stand-alone event is busy time for the next search.
    again = h.run(ref)  # a new run of the same booking: a different run, so a conflict
    assert again.status == "failed" and "booked by another run" in (again.error or "")
    assert len(events(cal)) == 2


def test_idempotency_key_makes_runs_one_booking(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, idempotency_key="<req-1@example.com>")
    first, second = h.run(ref), h.run(ref)
    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert first.outputs["book"]["uid"] == second.outputs["book"]["uid"]
    assert len(events(h.workflows / "acme" / "cal.ics")) == 2


def test_busy_slot_is_refused(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, start="2026-03-10T10:30")
    result = h.run(ref)
    assert result.status == "failed"
    assert "no longer free" in (result.error or "") and "cal: busy" in (result.error or "")
    assert [e.status for e in result.effects] == ["failed"]
    assert len(events(h.workflows / "acme" / "cal.ics")) == 1


def test_buffer_makes_a_touching_slot_busy(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ok = h.run(setup(h, start="2026-03-10T11:00"))
    assert ok.status == "succeeded", ok.error
    h2 = setup(h, False, start="2026-03-10T11:45", buffer_before_minutes=10)
    assert h.run(h2).status == "failed"  # 11:35 is inside the 11:00-11:45 booking


def test_dry_run_books_nothing(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h)
    cal = h.workflows / "acme" / "cal.ics"
    before = cal.read_bytes()
    dry = h.run(ref, dry_run=True)
    assert dry.status == "succeeded", dry.error
    assert dry.outputs["book"]["status"] == "would_book"
    assert cal.read_bytes() == before


def test_crash_after_create_then_resume_books_once(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h)
    h.crash_at(1, "after")  # the event is written; the ledger never hears of it
    with contextlib.suppress(SimulatedCrash):
        h.run(ref)
    cal = h.workflows / "acme" / "cal.ics"
    assert len(events(cal)) == 2
    resumed = h.resume()
    assert [r.status for r in resumed] == ["succeeded"], [r.error for r in resumed]
    assert resumed[0].outputs["book"]["status"] == "booked"
    assert len(events(cal)) == 2


def test_action_contract(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h)
    cal = h.workflows / "acme" / "cal.ics"
    check_action_contract(h, ref, remote_state=cal.read_bytes)
    assert len(events(cal)) == 2


def test_past_slot_is_refused(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, start="2026-03-02T10:00")
    result = h.run(ref)
    assert result.status == "failed" and "in the past" in (result.error or "")
    # certainly not booked: recorded as failed, not as an outcome the AV must settle
    assert [e.status for e in result.effects] == ["failed"]
    assert "effect.unknown" not in [r["event"] for r in result.audit]


def test_path_leading_out_of_the_client_folder_is_refused(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    h.client("other", {"name": "Other", "accounts": {"cal": {"type": "ics", "path": "x.ics"}}})
    (h.workflows / "other" / "x.ics").write_text(BUSY)
    h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "Europe/Rome",
            "accounts": {"cal": {"type": "ics", "path": "../other/x.ics"}},
        },
    )
    h.workflow(
        "acme",
        "slots",
        {
            "steps": [
                {
                    "id": "f",
                    "uses": "calendar.free_slots",
                    "with": {"account": "cal", "duration_minutes": 30},
                }
            ]
        },
    )
    _project, errors = h.app.load()
    assert [str(e).split(": ", 1)[1] for e in errors] == [
        "path '../other/x.ics' is refused: it leads into client other's folder"
    ]


@pytest.mark.parametrize(
    ("model", "values"),
    [
        ("BookParams", {"start": "9999-12-31T23:30", "duration_minutes": 60, "title": "t"}),
        ("FreeSlotsParams", {"start": "9999-12-30", "duration_minutes": 60}),
        ("FreeSlotsParams", {"start": "0001-01-01", "duration_minutes": 60}),
        ("AgendaParams", {"day": "9999-12-31", "days_ahead": 5}),
        ("HoldParams", {"slots": ["0001-01-01T10:00"], "duration_minutes": 30}),
        ("RescheduleParams", {"uid": "x", "start": "9999-12-31T23:00"}),
    ],
)
def test_a_year_off_the_calendar_is_a_parameter_error(model: str, values: dict) -> None:  # type: ignore[type-arg]
    """Not an OverflowError when the step runs: `avflow validate` names the line."""
    from avflow_calendar import params
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="between 1900 and 9000"):
        getattr(params, model).model_validate({"account": "cal", **values})
