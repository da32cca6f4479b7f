"""Gating ``when: working_hours``: the client's working hours, public holidays and closed dates.

A firing is judged at its scheduled instant, read on the client's wall clock. Working-hour
ranges include their start and exclude their end (``09:00-18:00`` admits 17:59, not 18:00);
``24:00`` as an end means the end of the day.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from avflow.models import (
    ClientProfile,
    Holidays,
    closed_every_year,
    parse_closed,
    parse_working_hours,
    parse_yearly,
)

_HOLIDAYS: dict[tuple[str, str | None, int], Any] = {}


def holiday_name(country: str, subdiv: str | None, day: date) -> str | None:
    """The name of the public holiday on ``day``, or None (calendars shared across clients)."""
    key = (country, subdiv, day.year)
    cal = _HOLIDAYS.get(key)
    if cal is None:
        from avflow.holidaycal import country_holidays

        cal = _HOLIDAYS[key] = country_holidays(country, subdiv=subdiv, years=day.year)
    name = cal.get(day)
    return None if name is None else str(name)


def holiday_country(spec: str | Holidays | None) -> tuple[str, str | None] | None:
    if spec is None:
        return None
    if isinstance(spec, Holidays):
        return spec.country, spec.subdiv
    country, _, subdiv = spec.partition("-")
    return country, subdiv or None


class Gate:
    """Decides whether a client's working-hours workflow may run at a given instant."""

    __slots__ = ("closed", "holidays", "hours", "tz", "yearly")

    def __init__(self, profile: ClientProfile) -> None:
        self.tz = ZoneInfo(profile.timezone)
        self.hours = {
            day: [
                (start, time(23, 59, 59, 999999) if end == time(23, 59) else end)
                for start, end in ranges
            ]
            for day, ranges in parse_working_hours(profile.working_hours).items()
        }
        specs = [str(spec) for spec in profile.closed]
        self.yearly = [(s, y) for s in specs if (y := parse_yearly(s)) is not None]
        self.closed = [parse_closed(s) for s in specs if parse_yearly(s) is None]
        self.holidays = holiday_country(profile.holidays)

    def reason(self, instant: datetime) -> str | None:
        """Why a firing at ``instant`` may not run (a short phrase), or None if it may."""
        local = instant.astimezone(self.tz)
        day = local.date()
        for first, last in self.closed:
            if first <= day <= last:
                return f"closed ({first}" + ("" if first == last else f" to {last}") + ")"
        for spec, yearly in self.yearly:
            if closed_every_year(yearly, day):
                return f"closed ({spec.replace('/', ' to ')} every year)"
        if self.holidays is not None:
            name = holiday_name(*self.holidays, day)
            if name is not None:
                return f"public holiday ({name})"
        now = local.time().replace(tzinfo=None)
        for start, end in self.hours.get(local.weekday(), []):
            if start <= now < end:
                return None
        return "outside working hours"
