"""Slot finding across DST changes, checked against expectations worked out by hand.

Europe/Rome moves to summer time on Sunday 29 March 2026 (UTC+1 -> UTC+2) and back on
25 October; America/New_York on 8 March (UTC-5 -> UTC-4) and back on 1 November. Each test holds
a series defined in the *other* city's zone, so its local time moves when only one city changes,
plus an EXDATE, an overridden instance, an all-day event and a public holiday.
"""

from __future__ import annotations

from calhelp import calendar_client, ics, slots_workflow

ROME_HOURS = {"mon-fri": "09:00-13:00,14:00-18:00"}

ROME_BUSY = ics(
    # Stand-up every weekday 09:00-10:00 Rome time; not on Tue 31 March; on Wed 1 April it
    # moved to 15:00-16:00.
    """UID:standup@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260316T090000
DTEND;TZID=Europe/Rome:20260316T100000
RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR
EXDATE;TZID=Europe/Rome:20260331T090000
SUMMARY:Stand-up""",
    """UID:standup@test
DTSTAMP:20260301T000000Z
RECURRENCE-ID;TZID=Europe/Rome:20260401T090000
DTSTART;TZID=Europe/Rome:20260401T150000
DTEND;TZID=Europe/Rome:20260401T160000
SUMMARY:Stand-up (moved)""",
    # A call at 10:00 New York time on Mondays and Fridays: New York is already on summer time
    # (UTC-4), so it is 15:00 in Rome before 29 March and 16:00 after.
    """UID:ny-call@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=America/New_York:20260302T100000
DTEND;TZID=America/New_York:20260302T110000
RRULE:FREQ=WEEKLY;BYDAY=MO,FR
SUMMARY:Call with New York""",
    # Thursday 2 April: away all day.
    """UID:away@test
DTSTAMP:20260301T000000Z
DTSTART;VALUE=DATE:20260402
DTEND;VALUE=DATE:20260403
SUMMARY:Trade fair""",
    # Free time that does not block (TRANSP) and a cancelled meeting.
    """UID:lunch@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260327T100000
DTEND;TZID=Europe/Rome:20260327T120000
TRANSP:TRANSPARENT
SUMMARY:Maybe lunch""",
    """UID:cancelled@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260330T140000
DTEND;TZID=Europe/Rome:20260330T150000
STATUS:CANCELLED
SUMMARY:Called off""",
)


def _starts(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert result.status == "succeeded", result.error
    return [s["start"] for s in result.outputs["find"]["slots"]]


def test_spring_forward_week_in_rome(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(
        h, "acme", "Europe/Rome", {"cal": ROME_BUSY}, working_hours=ROME_HOURS, holidays="IT"
    )
    h.clock.set("2026-03-27T07:00:00+00:00")  # Friday 08:00 in Rome
    ref = slots_workflow(
        h, "acme", account="cal", duration_minutes=60, step_minutes=60, count=50, days=11
    )
    got = _starts(h.run(ref))

    def day(date: str, offset: str, hours: list[int]) -> list[str]:
        return [f"{date}T{hour:02d}:00:00{offset}" for hour in hours]

    expected = (
        # Fri 27 (UTC+1): stand-up 9-10, New York call 15-16.
        day("2026-03-27", "+01:00", [10, 11, 12, 14, 16, 17])
        # Mon 30 (UTC+2): stand-up 9-10, New York call now 16-17; the cancelled meeting is free.
        + day("2026-03-30", "+02:00", [10, 11, 12, 14, 15, 17])
        # Tue 31: the stand-up's EXDATE frees 9-10.
        + day("2026-03-31", "+02:00", [9, 10, 11, 12, 14, 15, 16, 17])
        # Wed 1 April: the stand-up moved to 15-16.
        + day("2026-04-01", "+02:00", [9, 10, 11, 12, 14, 16, 17])
        # Thu 2: all-day event. Fri 3: stand-up and New York call.
        + day("2026-04-03", "+02:00", [10, 11, 12, 14, 15, 17])
        # Mon 6 April is Easter Monday; Tue 7 starts after the window's end (07:00 UTC = 09:00).
    )
    assert got == expected


def test_rome_buffers_notice_and_max_per_day(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    booked = ics(
        """UID:avflow-earlier@test
DTSTAMP:20260301T000000Z
DTSTART:20260330T100000Z
DTEND:20260330T110000Z
SUMMARY:Booked before
X-AVFLOW-BOOKING:someone"""
    )
    h = avflow_harness
    calendar_client(
        h,
        "acme",
        "Europe/Rome",
        {"cal": ROME_BUSY, "bookings": booked},
        working_hours=ROME_HOURS,
        holidays="IT",
    )
    h.clock.set("2026-03-27T07:00:00+00:00")
    ref = slots_workflow(
        h,
        "acme",
        account="cal",
        also_busy=["bookings"],
        duration_minutes=60,
        step_minutes=60,
        count=5,
        days=11,
        min_notice_minutes=180,
        buffer_after_minutes=15,
        max_per_day=2,
    )
    assert _starts(h.run(ref)) == [
        # Fri: not before 11:00 (3 hours' notice); 14:00 would end 15:00 and its 15 minutes
        # after meet the New York call; two a day at most.
        "2026-03-27T11:00:00+01:00",
        "2026-03-27T12:00:00+01:00",
        # Mon: the booking made before (12:00-13:00 Rome) counts, so one more only.
        "2026-03-30T10:00:00+02:00",
        "2026-03-31T09:00:00+02:00",
        "2026-03-31T10:00:00+02:00",
    ]


NY_BUSY = ics(
    # 14:00-15:00 Rome time on Mondays, Wednesdays and Fridays. Rome is on winter time from
    # 25 October (UTC+1): that is 13:00 UTC, 09:00 in New York until 1 November, 08:00 after.
    # Not on Wed 4 November; on Fri 6 November moved to 17:00 Rome (11:00 New York).
    """UID:rome-sync@test
DTSTAMP:20261001T000000Z
DTSTART;TZID=Europe/Rome:20261005T140000
DTEND;TZID=Europe/Rome:20261005T150000
RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR
EXDATE;TZID=Europe/Rome:20261104T140000
SUMMARY:Sync with Rome""",
    """UID:rome-sync@test
DTSTAMP:20261001T000000Z
RECURRENCE-ID;TZID=Europe/Rome:20261106T140000
DTSTART;TZID=Europe/Rome:20261106T170000
DTEND;TZID=Europe/Rome:20261106T180000
SUMMARY:Sync with Rome (moved)""",
    # Overnight from Sunday 22:00 to Monday 09:00, New York time: crosses midnight.
    """UID:overnight@test
DTSTAMP:20261001T000000Z
DTSTART;TZID=America/New_York:20261108T220000
DTEND;TZID=America/New_York:20261109T090000
SUMMARY:Red-eye""",
    # Tuesday 10 November, all day (a date, no DTEND: one day).
    """UID:offsite@test
DTSTAMP:20261001T000000Z
DTSTART;VALUE=DATE:20261110
SUMMARY:Offsite""",
)


def test_fall_back_week_in_new_york(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(
        h,
        "bloom",
        "America/New_York",
        {"cal": NY_BUSY},
        working_hours={"mon-fri": "08:00-12:00"},
        holidays="US",
    )
    h.clock.set("2026-10-30T11:00:00+00:00")  # Friday 07:00 in New York (UTC-4)
    ref = slots_workflow(
        h, "bloom", account="cal", duration_minutes=60, step_minutes=60, count=50, days=13
    )
    got = _starts(h.run(ref))

    def day(date: str, offset: str, hours: list[int]) -> list[str]:
        return [f"{date}T{hour:02d}:00:00{offset}" for hour in hours]

    assert got == (
        day("2026-10-30", "-04:00", [8, 10, 11])  # the Rome sync at 09:00
        + day("2026-11-02", "-05:00", [9, 10, 11])  # after the change: the sync at 08:00
        + day("2026-11-03", "-05:00", [8, 9, 10, 11])
        + day("2026-11-04", "-05:00", [8, 9, 10, 11])  # EXDATE
        + day("2026-11-05", "-05:00", [8, 9, 10, 11])
        + day("2026-11-06", "-05:00", [8, 9, 10])  # moved to 11:00
        + day("2026-11-09", "-05:00", [9, 10, 11])  # the overnight ends at 09:00
        # Tue 10: all day; Wed 11: Veterans Day; Thu 12: after the window (07:00 local).
    )


def test_a_slot_across_a_clock_change_names_both_zones() -> None:
    """02:30 CEST + 30 min is 02:00 CET: '02:30-02:00 CET' would read as a slot that ends first."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from avflow_calendar.actions import slot_output

    ctx = SimpleNamespace(client=SimpleNamespace(tz=ZoneInfo("Europe/Rome")))
    start = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first 02:30 that night
    half = timedelta(minutes=30)
    label = slot_output(start, start + half, ctx)["label"]  # type: ignore[arg-type]
    assert label == "Sun 31 Oct 2027, 02:30 CEST-02:00 CET"
    day_before = start.replace(day=30)
    plain = slot_output(day_before, day_before + half, ctx)  # type: ignore[arg-type]
    assert plain["label"] == "Sat 30 Oct 2027, 02:30-03:00 CEST"
