"""Free slots: the pure computation, with no calendar access (see docs/calendar.md).

Every instant is an aware datetime; busy time arrives in UTC. Working hours are read on the
client's wall clock day by day, so a slot at 09:00 is 09:00 local on both sides of a DST change;
a slot's length is real elapsed time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from avflow import ClientInfo, is_holiday

END_OF_DAY = time(23, 59)  # a working range ending at 24:00 is stored as 23:59


@dataclass(frozen=True, slots=True)
class Busy:
    """A span of busy time; ``booking`` marks an appointment avflow booked (for max_per_day)."""

    start: datetime
    end: datetime
    booking: bool = False
    uid: str = ""
    title: str = ""  # for agendas
    location: str = ""
    all_day: bool = False
    hold_until: datetime | None = None  # a tentative hold, released at this instant


def live(spans: Iterable[Busy], now: datetime) -> list[Busy]:
    """The spans that block time at ``now``: a hold past its deadline no longer does."""
    return [b for b in spans if b.hold_until is None or b.hold_until > now]


@dataclass(frozen=True)
class Rules:
    """How slots are chosen for one client."""

    tz: tzinfo
    hours: Mapping[int, Sequence[tuple[time, time]]]
    duration: timedelta
    step: timedelta = timedelta(minutes=30)
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    notice: timedelta = timedelta(0)
    max_per_day: int | None = None
    closed: Sequence[tuple[date, date]] = ()
    holidays_of: ClientInfo | None = None  # the client whose public holidays are closed days

    def day_closed(self, day: date) -> bool:
        """A closed date of the profile, or a public holiday of the client's country (as
        avflow tells it: `avflow.is_holiday`, the same calendar as the scheduler's gating)."""
        if any(first <= day <= last for first, last in self.closed):
            return True
        return self.holidays_of is not None and is_holiday(self.holidays_of, day)


class BusyIndex:
    """Busy spans merged into disjoint sorted intervals, for O(log n) overlap questions."""

    def __init__(self, spans: Iterable[Busy]) -> None:
        merged: list[list[datetime]] = []
        for b in sorted((b for b in spans if b.end > b.start), key=lambda b: b.start):
            if merged and b.start <= merged[-1][1]:
                if b.end > merged[-1][1]:
                    merged[-1][1] = b.end
            else:
                merged.append([b.start, b.end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) meets busy time (touching end to start is not overlap)."""
        i = bisect_left(self.starts, end) - 1  # the last span starting before ``end``
        return i >= 0 and self.ends[i] > start


def local(day: date, at: time, tz: tzinfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``tz``, as UTC. A wall time skipped by a spring-forward
    gap is read with the offset before the change (02:30 becomes 03:30 summer time)."""
    if at == END_OF_DAY:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _grid(begin: datetime, finish: datetime, rules: Rules) -> Iterator[datetime]:
    """Candidate starts from ``begin`` every ``step`` of real time, while a slot still fits."""
    t = begin
    while t + rules.duration <= finish:
        yield t
        t += rules.step


def find(
    rules: Rules,
    busy: BusyIndex,
    bookings: Mapping[date, int],
    start: datetime,
    end: datetime,
    count: int,
) -> list[tuple[datetime, datetime]]:
    """Up to ``count`` free, non-overlapping slots starting at or after ``start`` (plus the
    minimum notice) and ending by ``end``, earliest first, as UTC (start, end) pairs.

    ``bookings`` counts the appointments already booked on each local day (for max_per_day).
    """
    earliest = start.astimezone(UTC) + rules.notice
    end = end.astimezone(UTC)
    found: list[tuple[datetime, datetime]] = []
    day = earliest.astimezone(rules.tz).date()
    last_day = end.astimezone(rules.tz).date()
    before, after = rules.buffer_before, rules.buffer_after
    while day <= last_day and len(found) < count:
        ranges = rules.hours.get(day.weekday(), ())
        room = None if rules.max_per_day is None else rules.max_per_day - bookings.get(day, 0)
        if ranges and (room is None or room > 0) and not rules.day_closed(day):
            taken_until = earliest
            for a, b in ranges:
                begin, finish = local(day, a, rules.tz), min(local(day, b, rules.tz), end)
                for s in _grid(begin, finish, rules):
                    e = s + rules.duration
                    if s < taken_until or busy.overlaps(s - before, e + after):
                        continue
                    found.append((s, e))
                    taken_until = e  # proposals never overlap one another
                    if room is not None:
                        room -= 1
                    if len(found) == count or room == 0:
                        break
                if len(found) == count or room == 0:
                    break
        day += timedelta(days=1)
    return found


def bookings_per_day(spans: Iterable[Busy], tz: tzinfo) -> dict[date, int]:
    """How many avflow bookings start on each local day."""
    out: dict[date, int] = {}
    for b in spans:
        if b.booking:
            d = b.start.astimezone(tz).date()
            out[d] = out.get(d, 0) + 1
    return out
