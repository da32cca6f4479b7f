"""How much work a recurring event costs to expand, before it is expanded.

A series is expanded (``recurring-ical-events``, on ``dateutil``) by walking its rule from its
first occurrence to the end of the window asked for: ``RRULE:FREQ=SECONDLY`` begun a year ago
is thirty million steps before the first one in the window (hours of CPU), and a rule such as
``FREQ=DAILY;BYHOUR=...;BYMINUTE=...;BYSECOND=...`` is as bad. Anyone who can put an event in
a client's calendar (an invitation, a shared calendar) could stop every calendar step that way.
`too_many` bounds the steps of each rule from above, without expanding it; a series over
`MAX_REPEATS` is refused with one line naming it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

MAX_REPEATS = 200_000  # steps of one series' rules up to the window's end (about a second)

_PERIOD = {  # the shortest length of one period of each frequency, in seconds
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
_ORDER = list(_PERIOD)
_DAY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
_DAYS_IN = {"WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}  # the most days a period can expand to


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=UTC)
    return None


def _first(rule: Any, key: str) -> Any:
    values = rule.get(key)
    if isinstance(values, list):
        return values[0] if values else None
    return values


def _per_period(rule: Any, freq: str) -> int:
    """The most occurrences one period of ``rule`` can expand to (BYxxx parts finer than it)."""
    coarser = _ORDER.index(freq)
    n = 1
    for part, level in (("BYSECOND", 0), ("BYMINUTE", 1), ("BYHOUR", 2)):
        if coarser > level and rule.get(part):
            n *= max(1, len(rule[part]))
    if freq in _DAYS_IN and any(rule.get(p) for p in _DAY_PARTS):
        n *= _DAYS_IN[freq]
    elif freq == "YEARLY" and rule.get("BYMONTH"):
        n *= max(1, len(rule["BYMONTH"]))
    return n


def steps(rule: Any, first: datetime, end: datetime) -> float:
    """An upper bound of the occurrences ``rule`` walks through from ``first`` to ``end``."""
    freq = str(_first(rule, "FREQ") or "").upper()
    if freq not in _PERIOD:
        return 0.0  # not a rule the expansion can walk: it reports the error itself
    try:
        interval = max(1, int(_first(rule, "INTERVAL") or 1))
    except (TypeError, ValueError):
        interval = 1
    until = _utc(_first(rule, "UNTIL"))
    last = min(end, until) if until is not None else end
    periods = max(0.0, (last - first).total_seconds()) / (_PERIOD[freq] * interval) + 1
    bound = periods * _per_period(rule, freq)
    count = _first(rule, "COUNT")
    if isinstance(count, int) and count >= 0:
        bound = min(bound, float(count))
    return bound


def too_many(event: Any, end: datetime) -> str | None:
    """Why expanding ``event`` up to ``end`` would take too long, or None when it would not."""
    rules = event.get("RRULE")
    if rules is None:
        return None
    start_prop = event.get("DTSTART")
    first = _utc(getattr(start_prop, "dt", None))
    if first is None:
        return None
    # a zone's offset moves the start by a day at most: counted from a day earlier
    first -= timedelta(days=1)
    total = sum(steps(r, first, end) for r in (rules if isinstance(rules, list) else [rules]))
    if total <= MAX_REPEATS:
        return None
    rule = rules[0] if isinstance(rules, list) else rules
    text = rule.to_ical().decode(errors="replace")[:80]
    return (
        f"it repeats too often to read (RRULE:{text}: up to {total:,.0f} times from "
        f"{first + timedelta(days=1):%Y-%m-%d} to {end:%Y-%m-%d}; a series is read up to "
        f"{MAX_REPEATS:,} times): give its rule an end (UNTIL or COUNT) or a longer interval"
    )
