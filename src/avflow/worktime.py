"""Counting a duration in a client's working time (an approval's timeout, docs/approvals.md).

The same working hours, public holidays and closed dates as the scheduler's gating
(`avflow.scheduler.gating`), read on the client's wall clock: ten minutes of working time asked
for at 17:55 on a Friday, with hours ``09:00-18:00``, end at 09:05 on Monday. Time is counted in
real elapsed seconds, so a working range that spans a DST change counts its true length.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from avflow.api import ClientInfo
from avflow.scheduler.gating import holiday_name

HORIZON_DAYS = 3 * 366  # a profile with no working day in three years: no deadline at all
END_OF_DAY = time(23, 59)  # as the profile parser writes "24:00"


def _closed(info: ClientInfo, day: date) -> bool:
    if any(first <= day <= last for first, last in info.closed):
        return True
    return info.holidays is not None and holiday_name(*info.holidays, day) is not None


def _ranges(info: ClientInfo, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The day's working ranges as UTC instants."""
    if _closed(info, day):
        return
    for start, end in info.working_hours.get(day.weekday(), ()):
        a = datetime.combine(day, start, tzinfo=info.tz).astimezone(UTC)
        if end == END_OF_DAY:
            b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=info.tz)
        else:
            b = datetime.combine(day, end, tzinfo=info.tz)
        yield a, b.astimezone(UTC)


def add_working_time(info: ClientInfo, start: datetime, seconds: float) -> datetime | None:
    """The instant when ``seconds`` of the client's working time have passed since ``start``.

    A client with no working hours at all counts plain time. None: no working time within
    `HORIZON_DAYS` (every day closed), so the duration never ends.
    """
    start = start.astimezone(UTC)
    if not info.working_hours:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=max(0.0, seconds))
    day = start.astimezone(info.tz).date() - timedelta(days=1)  # a range may start the day before
    for _ in range(HORIZON_DAYS):
        for a, b in _ranges(info, day):
            a = max(a, start)
            if b <= a:
                continue
            if b - a >= left:
                return a + left
            left -= b - a
        day += timedelta(days=1)
    return None
