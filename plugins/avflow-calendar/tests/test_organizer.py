"""An organizer that is not an e-mail address (a From header with a name, a line break from a
template) was refused by the iCalendar library inside the booking: an effect of unknown outcome
for the AV to settle, though nothing was booked. It is a parameter error, before any effect."""

from __future__ import annotations

from typing import Any

from calhelp import calendar_client, ics


def test_an_organizer_from_a_template_is_checked_before_booking(avflow_harness: Any) -> None:
    h = avflow_harness
    calendar_client(h, "acme", "Europe/Rome", {"cal": ics()})
    h.clock.set("2026-03-09T08:00:00+00:00")
    params = {
        "account": "cal",
        "start": "2026-03-10T14:00",
        "duration_minutes": 30,
        "title": "Call",
        "organizer": "{{ 'anna@x.example' ~ '\\r\\nATTENDEE:mailto:evil@x.example' }}",
    }
    h.workflow("acme", "book", {"steps": [{"id": "b", "uses": "calendar.book", "with": params}]})
    result = h.run("acme/book")
    assert result.status == "failed"
    assert "organizer: " in result.error and "is not an e-mail address" in result.error
    assert result.effects == []  # before: one effect, outcome unknown
    assert "BEGIN:VEVENT" not in (h.workflows / "acme" / "cal.ics").read_text()
