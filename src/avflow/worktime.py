"""A client's working time, for the core and for plugins (exported by ``avflow``; docs/plugins.md).

The same working hours, public holidays and closed dates as the scheduler's gating
(`avflow.scheduler.gating`), read on the client's wall clock from its `avflow.ClientInfo`:
whether a day is a public holiday or closed, whether an instant is working time, when the client
next opens, and counting a duration in working time (an approval's timeout, docs/approvals.md):
ten minutes asked for at 17:55 on a Friday, with hours ``09:00-18:00``, end at 09:05 on Monday.
Time is counted in real elapsed seconds, so a working range that spans a DST change counts its
true length; a range starting or ending at a wall time a spring-forward gap skips starts or
ends at the first instant after the gap, as gating judges it. Only the `holidays` country the
client names is loaded (`avflow.holidaycal`), once per country and year for all clients.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from avflow.api import ClientInfo
from avflow.scheduler import gating

HORIZON_DAYS = 3 * 366  # a profile with no working day in three years: no deadline at all
END_OF_DAY = time(23, 59)  # as the profile parser writes "24:00"


def holiday_name(client: ClientInfo, day: date) -> str | None:
    """The name of the client's public holiday on ``day`` (its profile's ``holidays:``
    country and subdivision), or None: not a holiday, or the profile names no country."""
    if client.holidays is None:
        return None
    return gating.holiday_name(*client.holidays, day)


def is_holiday(client: ClientInfo, day: date) -> bool:
    """Whether ``day`` is a public holiday of the client's ``holidays:`` country."""
    return holiday_name(client, day) is not None


def is_closed_day(client: ClientInfo, day: date) -> bool:
    """Whether the client is closed all of ``day``: a date of its ``closed:`` list or a public
    holiday (a weekday without working hours is not "closed": see `is_working_time`)."""
    if any(first <= day <= last for first, last in client.closed):
        return True
    return is_holiday(client, day)


def local_to_utc(naive: datetime, tz: tzinfo) -> datetime:
    """The UTC instant a wall-clock time names in ``tz``: in a repeated hour its first
    occurrence, in a spring-forward gap the first instant after the gap (as gating judges it)."""
    utc = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    # In a gap, fold=1 reads the time with the offset after the change (an instant before the
    # change) and fold=0 with the one before it (an instant after): the change lies between.
    lo = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(utc.timestamp())
    after = datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _at(day: date, wall: time, tz: tzinfo) -> datetime:
    return local_to_utc(datetime.combine(day, wall), tz)


def _ranges(info: ClientInfo, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The day's working ranges as UTC instants."""
    if is_closed_day(info, day):
        return
    for start, end in sorted(info.working_hours.get(day.weekday(), ())):
        a = _at(day, start, info.tz)
        if end == END_OF_DAY:
            b = _at(day + timedelta(days=1), time(0), info.tz)
        else:
            b = _at(day, end, info.tz)
        yield a, b


def is_working_time(client: ClientInfo, at: datetime) -> bool:
    """Whether ``at`` (an aware datetime) is in the client's working time: inside one of the
    day's working ranges (start included, end excluded) on a day that is not closed. A client
    whose profile has no working hours at all is always working."""
    at = at.astimezone(UTC)
    if not client.working_hours:
        return True
    local = at.astimezone(client.tz).date()
    return any(
        a <= at < b for day in (local - timedelta(days=1), local) for a, b in _ranges(client, day)
    )


def next_working_time(client: ClientInfo, at: datetime) -> datetime | None:
    """The first instant at or after ``at`` in the client's working time, in UTC: ``at``
    itself while the client works; None when no working time comes within about three years
    (every day closed). A client with no working hours at all is always working."""
    at = at.astimezone(UTC)
    if not client.working_hours:
        return at
    day = at.astimezone(client.tz).date() - timedelta(days=1)  # a range may start the day before
    for _ in range(HORIZON_DAYS):
        for a, b in _ranges(client, day):
            if b > at and b > a:
                return max(a, at)
        day += timedelta(days=1)
    return None


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
