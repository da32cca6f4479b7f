"""A full simulated year of firings, checked against an oracle built from zoneinfo alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from avflow.clock import FakeClock
from avflow.scheduler.firing import schedule_of
from avflow.scheduler.planner import Job, Planner

ZONES = ["Europe/Rome", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
JOBS = {
    "daily": "30 2 * * *",  # fixed time, inside every spring-forward gap and fall-back hour
    "weekly": "30 2 * * 0",  # Sundays: the day these zones change their clocks
    "hourly": "0 * * * *",
    "quarter": "*/15 * * * *",
}
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)  # every offset of these zones is a multiple of 15 minutes


def _field(spec: str, value: int) -> bool:
    if spec == "*":
        return True
    if spec.startswith("*/"):
        return value % int(spec[2:]) == 0
    return value == int(spec)


def _matches(cron: str, wall: datetime) -> bool:
    minute, hour, _, _, dow = cron.split()
    return (
        _field(minute, wall.minute)
        and _field(hour, wall.hour)
        and _field(dow, (wall.weekday() + 1) % 7)
    )


def oracle(cron: str, zone: str) -> list[datetime]:
    """Firings in [START, END) from first principles: a walk over real instants on a 15-minute grid.

    Hourly and finer jobs fire at every instant whose wall time matches. A fixed-time job fires,
    for each matching wall time w of each day, at the first instant whose wall time is >= w: w
    itself, the first occurrence in a repeated hour, the end of the gap in a skipped one.
    """
    tz = ZoneInfo(zone)
    grid = []
    t = START - timedelta(days=2)
    while t < END + timedelta(days=2):
        grid.append((t, t.astimezone(tz).replace(tzinfo=None)))
        t += STEP
    minute, hour = cron.split()[:2]
    if minute.startswith("*") or hour.startswith("*"):
        return [t for t, wall in grid if START <= t < END and _matches(cron, wall)]
    out: list[datetime] = []
    i = 0
    day = date(2025, 12, 30)
    while day < date(2027, 1, 3):
        wall = datetime(day.year, day.month, day.day, int(hour), int(minute))
        if _matches(cron, wall):
            while grid[i][1] < wall:
                i += 1
            if START <= grid[i][0] < END and (not out or out[-1] != grid[i][0]):
                out.append(grid[i][0])
        day += timedelta(days=1)
    return out


def test_oracle_knows_the_dst_rules() -> None:
    rome = oracle("30 2 * * *", "Europe/Rome")
    spring = [t for t in rome if t.date() == date(2026, 3, 29)]
    assert spring == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]  # 03:00 CEST, the end of the gap
    autumn = [t for t in rome if t.date() == date(2026, 10, 25)]
    assert autumn == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # the first 02:30
    hourly = [t for t in oracle("0 * * * *", "Europe/Rome") if t.date() == date(2026, 10, 25)]
    assert len(hourly) == 24  # 25 real hours, one fires on the previous UTC day
    assert len(oracle("0 * * * *", "Europe/Rome")) == 365 * 24


def test_a_full_year_in_five_zones_matches_the_oracle() -> None:
    clock = FakeClock(START - timedelta(seconds=1))
    planner = Planner()
    for zone in ZONES:
        for kind, cron in JOBS.items():
            job = Job(
                zone, kind, schedule_of([cron], zone), None, "all", timedelta(days=1), 100, "fp"
            )
            planner.add(job, job.schedule.next_after(clock.now()))
    fired: dict[tuple[str, str], list[datetime]] = {key: [] for key in planner.jobs}
    wakeups = 0
    while True:
        due = planner.next_due()
        assert due is not None
        if due >= END:
            break
        clock.sleep(
            (due - clock.now()).total_seconds()
        )  # the service sleeps until the next due time
        wakeups += 1
        decisions = planner.collect(clock.now())
        assert decisions, "woke up with nothing due: that would be polling"
        for d in decisions:
            assert d.run and not d.late and not d.gated
            fired[d.job.key] += d.run
    distinct = set()
    for zone in ZONES:
        for kind, cron in JOBS.items():
            expected = oracle(cron, zone)
            got = fired[(zone, kind)]
            assert len(got) == len(expected), (zone, kind)
            assert got == expected, (
                zone,
                kind,
                next((g, e) for g, e in zip(got, expected, strict=False) if g != e),
            )
            distinct.update(got)
    assert wakeups == len(distinct)
    # spot checks of DST days, in local time
    local = {z: [t.astimezone(ZoneInfo(z)) for t in fired[(z, "daily")]] for z in ZONES}
    ny = [t for t in local["America/New_York"] if t.date() == date(2026, 3, 8)]
    assert [t.isoformat() for t in ny] == ["2026-03-08T03:00:00-04:00"]
    syd = [t for t in local["Australia/Sydney"] if t.date() == date(2026, 4, 5)]
    assert [t.isoformat() for t in syd] == ["2026-04-05T02:30:00+11:00"]
    assert len(fired[("Europe/Rome", "quarter")]) == 365 * 96  # every real quarter hour
    assert len(fired[("America/New_York", "daily")]) == 365


@pytest.mark.parametrize("zone", ZONES)
def test_next_after_is_strict_and_from_any_instant(zone: str) -> None:
    sched = schedule_of(["*/15 * * * *"], zone)
    t = datetime(2026, 3, 29, 0, 45, tzinfo=UTC)
    assert sched.next_after(t) == t + timedelta(minutes=15)
    assert sched.next_after(t - timedelta(microseconds=1)) == t
