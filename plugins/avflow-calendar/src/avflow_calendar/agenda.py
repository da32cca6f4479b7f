"""The ``calendar.agenda`` action: a day's or a week's appointments as outputs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from avflow import StepContext
from avflow_calendar.accounts import open_all
from avflow_calendar.params import AgendaParams
from avflow_calendar.release import release_expired
from avflow_calendar.slots import live


def agenda(ctx: StepContext, params: AgendaParams) -> dict[str, Any]:
    """``calendar.agenda``: what is in the client's calendars on a day or a week, local time."""
    tz = ctx.client.tz
    first = (params.day or ctx.now().astimezone(tz).date()) + timedelta(days=params.days_ahead)
    days = 7 if params.period == "week" else 1
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=tz).astimezone(UTC)
    names = list(dict.fromkeys([params.account, *params.also]))
    found = []
    with open_all(ctx, names) as backends:
        for backend in backends:
            got = backend.busy(start, end, tz)
            release_expired(ctx, backend, got)
            found += [(b, backend.name) for b in live(got, ctx.now())]
    found.sort(key=lambda item: (item[0].start, item[0].end, item[0].title))
    events, lines, day = [], [], None
    for b, calendar in found:
        s, e = b.start.astimezone(tz), b.end.astimezone(tz)
        when = "all day" if b.all_day else f"{s:%H:%M}-{e:%H:%M}"
        events.append(
            {
                "start": s.isoformat(),
                "end": e.isoformat(),
                "time": when,
                "title": b.title,
                "location": b.location,
                "calendar": calendar,
                "all_day": b.all_day,
                "held": b.hold_until is not None,
            }
        )
        shown = max(s.date(), first)
        if shown != day:
            day = shown
            lines.append(f"{shown:%A %d %B %Y}")
        held = " [held]" if b.hold_until is not None else ""
        lines.append(f"  {when}  {b.title}{held}" + (f" ({b.location})" if b.location else ""))
    return {
        "from": first.isoformat(),
        "to": (first + timedelta(days=days - 1)).isoformat(),
        "events": events,
        "count": len(events),
        "text": "\n".join(lines) if lines else "No appointments.",
    }
