"""The client's working time (from its profile, as `avflow.ClientInfo` gives it): whether a post
may go out now, and if not, when the client next opens."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from avflow_social.calendar import local_to_utc

UTC = UTC
END_OF_DAY = time(23, 59)


@lru_cache(maxsize=64)
def _holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


def _closed_day(client: Any, day: date) -> bool:
    if any(first <= day <= last for first, last in getattr(client, "closed", ()) or ()):
        return True
    spec = getattr(client, "holidays", None)
    return bool(spec) and day in _holidays(spec[0], spec[1], day.year)


def next_open(client: Any, now: datetime) -> datetime | None:
    """None when the client is open at ``now``; otherwise the next instant it opens (UTC).
    A client whose profile has no working hours is always open."""
    hours = getattr(client, "working_hours", None) or {}
    if not hours:
        return None
    local = now.astimezone(client.tz).replace(tzinfo=None)
    for offset in range(0, 400):
        day = local.date() + timedelta(days=offset)
        if _closed_day(client, day):
            continue
        for start, end in sorted(hours.get(day.weekday(), ())):
            opens = datetime.combine(day, start)
            closes = datetime.combine(day, end) + (
                timedelta(minutes=1) if end == END_OF_DAY else timedelta(0)
            )
            if offset == 0 and opens <= local < closes:
                return None
            if opens > local:
                return local_to_utc(opens, client.tz)
    return None  # never open in a year: do not hold posts back forever
