"""Calendars that someone else filled: a series that repeats every second forever, rules that
expand to millions of instants, broken properties. Each fails the step with one line naming
the calendar, its file and the event, instead of running for hours or ending in a bare
library error."""

from __future__ import annotations

from typing import Any

import pytest
from avflow_calendar import ical
from calhelp import calendar_client, ics

EVERY = ",".join(str(n) for n in range(60))
BOMBS = {
    "secondly": "RRULE:FREQ=SECONDLY",
    "minutely from long ago": "RRULE:FREQ=MINUTELY",
    "expanded by BYxxx": f"RRULE:FREQ=DAILY;BYHOUR=9,10,11;BYMINUTE={EVERY};BYSECOND={EVERY}",
}
LEGIT = ics(
    # daily since 1950, hourly for a year, every second for an hour: all read as before
    "UID:daily@t\nSUMMARY:Daily\nDTSTAMP:19500101T000000Z\nDTSTART;TZID=Europe/Rome:"
    "19500102T080000\nDTEND;TZID=Europe/Rome:19500102T081500\nRRULE:FREQ=DAILY",
    "UID:hourly@t\nDTSTAMP:20260101T000000Z\nDTSTART:20260101T000000Z\nDTEND:20260101T000500Z"
    "\nRRULE:FREQ=HOURLY;UNTIL=20261231T000000Z",
    "UID:burst@t\nDTSTAMP:20260101T000000Z\nDTSTART:20260309T120000Z\nDTEND:20260309T120001Z"
    "\nRRULE:FREQ=SECONDLY;COUNT=3600",
)


def _run(h: Any, calendar: str) -> Any:
    calendar_client(h, "acme", "Europe/Rome", {"cal": calendar})
    h.clock.set("2026-03-09T08:00:00+00:00")
    step = {"id": "find", "uses": "calendar.free_slots", "timeout": 60}
    step["with"] = {"account": "cal", "duration_minutes": 30, "days": 7}
    h.workflow("acme", "slots", {"steps": [step]})
    return h.run("acme/slots")


@pytest.mark.parametrize("rule", list(BOMBS.values()), ids=list(BOMBS))
def test_a_series_that_repeats_too_often_is_refused_by_name(avflow_harness, rule) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    start = "20260101T000000Z" if "SECONDLY" in rule else "20000101T000000Z"
    bomb = ics(f"UID:bomb@t\nSUMMARY:Invitation\nDTSTAMP:{start}\nDTSTART:{start}\n{rule}")
    result = _run(h, bomb)
    assert result.status == "failed"
    # before: the step walked the rule from its start for hours (here: "timed out after 60s")
    assert "timed out" not in result.error
    assert "calendar 'cal': " in result.error and "cal.ics: event 'bomb@t' ('Invitation')" in (
        result.error
    )
    assert "repeats too often to read" in result.error and "UNTIL or COUNT" in result.error
    assert "\n" not in result.error


def test_series_that_end_or_repeat_sparsely_are_read_as_before(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    result = _run(avflow_harness, LEGIT)
    assert result.status == "succeeded", result.error
    # every slot avoids the daily 08:15-08:30 ... and the hourly five minutes: none starts at :00
    # of an hour where the hourly event sits (it ends at :05), none at 13:00 UTC on Monday 9
    slots = result.outputs["find"]["slots"]
    assert slots and all(not s["start_utc"].endswith(":00:00+00:00") for s in slots)


def test_busy_time_of_legit_series_is_unchanged() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    start, end = datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
    found = ical.busy_of([ical.parse(LEGIT.encode(), "t")], start, end, ZoneInfo("Europe/Rome"))
    by_uid: dict[str, int] = {}
    for b in found:
        by_uid[b.uid] = by_uid.get(b.uid, 0) + 1
    assert by_uid == {"daily@t": 1, "hourly@t": 24, "burst@t": 3600}


BROKEN = {
    "DTSTART": "DTSTART:2026031xT090000Z\nDTEND:20260310T100000Z",
    "DURATION": "DTSTART:20260310T090000Z\nDURATION:soon",
    "RRULE": "DTSTART:20260310T090000Z\nDTEND:20260310T100000Z\nRRULE:FREQ=NEVER",
    "UNTIL": "DTSTART:20260310T090000Z\nDTEND:20260310T100000Z\nRRULE:FREQ=DAILY;UNTIL=later",
    "RDATE": "DTSTART:20260310T090000Z\nDTEND:20260310T100000Z\nRDATE:tomorrow",
}


@pytest.mark.parametrize("broken", list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_event_names_its_calendar_file_and_uid(avflow_harness, broken) -> None:  # type: ignore[no-untyped-def]
    result = _run(
        avflow_harness, ics(f"UID:odd@t\nSUMMARY:Odd\nDTSTAMP:20260101T000000Z\n{broken}")
    )
    assert result.status == "failed"
    # before: "BrokenCalendarProperty: Cannot access 'dt' ..." naming neither file nor event
    assert result.error.startswith("step find: calendar 'cal': "), result.error
    assert "cal.ics: event 'odd@t' ('Odd'): " in result.error
    assert "\n" not in result.error


def _replace_calendar(h: Any, make: Any) -> Any:
    calendar_client(h, "acme", "Europe/Rome", {"cal": LEGIT})
    path = h.workflows / "acme" / "cal.ics"
    path.unlink()
    make(path)
    h.clock.set("2026-03-09T08:00:00+00:00")
    step = {"id": "find", "uses": "calendar.free_slots", "timeout": 5}
    step["with"] = {"account": "cal", "duration_minutes": 30, "days": 7}
    h.workflow("acme", "slots", {"steps": [step]})
    return h.run("acme/slots")


def test_a_fifo_in_place_of_the_calendar_is_refused_not_waited_on(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    import os

    result = _replace_calendar(avflow_harness, os.mkfifo)
    assert result.status == "failed"
    # before: the read blocked for ever ("timed out ... and did not stop")
    assert "cal.ics is not a regular file (a FIFO or a device): not read" in result.error
    assert "timed out" not in result.error


def test_an_enormous_calendar_file_is_refused_before_it_is_read(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    from avflow_calendar.backends import MAX_ICS

    def huge(path: Any) -> None:
        with path.open("wb") as f:
            f.write(LEGIT.encode())
            f.truncate(MAX_ICS + 1)  # sparse: no room taken on the disk

    result = _replace_calendar(avflow_harness, huge)
    assert result.status == "failed"
    assert "cal.ics is 67.1 MB; a .ics file is read up to 67.1 MB" in result.error
