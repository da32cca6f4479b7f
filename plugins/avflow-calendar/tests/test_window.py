"""Skipping far-away single events before parsing changes no busy time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from avflow_calendar import ical
from calhelp import ics

CAL = ics(
    "UID:old@t\nDTSTAMP:20200101T000000Z\nDTSTART:20200105T100000Z\nDTEND:20200105T110000Z",
    # a long event that began long ago and ends inside the window
    "UID:long@t\nDTSTAMP:20200101T000000Z\nDTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20260304",
    # DURATION: kept for the parser
    "UID:dur@t\nDTSTAMP:20200101T000000Z\nDTSTART:20260220T100000Z\nDURATION:P20D",
    # just outside by less than the slack, in a zone far from UTC
    "UID:edge@t\nDTSTAMP:20200101T000000Z\nDTSTART;TZID=Pacific/Kiritimati:20260302T010000\n"
    "DTEND;TZID=Pacific/Kiritimati:20260302T020000",
    # a folded DTSTART line
    "UID:folded@t\nDTSTAMP:20200101T000000Z\nDTSTART;TZID=Europe/Rome:202603\n 05T100000\n"
    "DTEND;TZID=Europe/Rome:20260305T110000",
    "UID:series@t\nDTSTAMP:20200101T000000Z\nDTSTART:20200106T090000Z\nDTEND:20200106T100000Z\n"
    "RRULE:FREQ=WEEKLY",
    "UID:future@t\nDTSTAMP:20200101T000000Z\nDTSTART:20300105T100000Z\nDTEND:20300105T110000Z",
)


def test_window_keeps_every_event_that_matters() -> None:
    tz = ZoneInfo("Europe/Rome")
    start, end = datetime(2026, 3, 1, 13, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    raw = CAL.encode()
    full = ical.busy_of([ical.parse(raw, "t")], start, end, tz)
    cut = ical.window(raw, start, end)
    assert b"old@t" not in cut and b"future@t" not in cut  # parsed no more
    assert b"edge@t" in cut  # near enough to be parsed, then found outside
    assert ical.busy_of([ical.parse(cut, "t")], start, end, tz) == full
    assert {b.uid for b in full} == {"long@t", "dur@t", "folded@t", "series@t"}
