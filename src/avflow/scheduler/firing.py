"""When a cron schedule fires: cron expressions read in the client's timezone, as UTC instants.

croniter walks the client's *wall clock* (naive local times); each matching wall time is then
turned into real instants with zoneinfo, by these daylight-saving rules:

- a **fixed-time** job (neither the minute nor the hour field starts with ``*``, e.g. ``30 2 * * *``)
  fires once per matching wall time: in a spring-forward gap, at the first valid instant after
  the gap (the transition itself); in a fall-back hour, at the first of the two instants;
- an **hourly or finer** job (minute or hour field starting with ``*``, e.g. ``0 * * * *`` or
  ``*/15 9-17 * * *``) fires at every real instant whose wall time matches: none in a gap, both
  in a repeated hour.

Several matching wall times mapping to one instant (a gap) give one firing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

_NEAR = timedelta(hours=3)  # no zone moves its clock by more than this at once
_MEMO_LIMIT = 4096


class CronSchedule:
    """One cron expression read in one timezone. Shared by every workflow that uses both."""

    __slots__ = ("_cur", "_it", "_memo", "_succ", "expr", "fixed", "tz")

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr = expr
        self.tz = tz
        minute, hour = expr.split()[:2]
        self.fixed = not (minute.startswith("*") or hour.startswith("*"))
        self._succ: dict[datetime, datetime] = {}  # wall time -> next matching wall time
        self._memo: dict[datetime, datetime] = {}  # instant -> next firing after it
        self._it: croniter | None = None
        self._cur: datetime | None = None

    def __repr__(self) -> str:
        return f"CronSchedule({self.expr!r}, {self.tz.key!r})"

    # -- wall clock -------------------------------------------------------------------------------
    def _next_wall(self, wall: datetime) -> datetime:
        nxt = self._succ.get(wall)
        if nxt is not None:
            return nxt
        if self._it is None or self._cur != wall:
            self._it = croniter(self.expr, wall)
        nxt = self._it.get_next(datetime)
        self._cur = nxt
        if len(self._succ) > _MEMO_LIMIT:
            self._succ.clear()
        self._succ[wall] = nxt
        return nxt

    def instants(self, wall: datetime) -> list[datetime]:
        """The real UTC instants at which wall time ``wall`` (naive, local) fires."""
        a = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        b = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        if a == b:
            return [a]
        if a.astimezone(self.tz).replace(tzinfo=None) == wall:  # it exists twice: a repeated hour
            return [a] if self.fixed else [min(a, b), max(a, b)]
        # it does not exist: a spring-forward gap, between b (old offset) and a (new offset)
        return [_transition(self.tz, min(a, b), max(a, b))] if self.fixed else []

    # -- instants ---------------------------------------------------------------------------------
    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (an aware datetime), in UTC."""
        after = after.astimezone(UTC)
        hit = self._memo.get(after)
        if hit is not None:
            return hit
        tz = self.tz
        near = _offset(tz, after - _NEAR) != _offset(tz, after + _NEAR)
        start = after - _NEAR if near else after
        wall = start.astimezone(tz).replace(tzinfo=None, microsecond=0)
        best: datetime | None = None
        for _ in range(100_000):
            wall = self._next_wall(wall)
            found = self.instants(wall)
            if not found:
                continue
            if best is not None and found[0] >= best:
                break  # the first instant of each wall time never decreases: nothing earlier follows
            for instant in found:
                if instant > after and (best is None or instant < best):
                    best = instant
        if best is None:
            raise ValueError(f"cron {self.expr!r} never fires")
        if len(self._memo) > _MEMO_LIMIT:
            self._memo.clear()
        self._memo[after] = best
        return best


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(tz).utcoffset()


def _transition(tz: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The instant in (lo, hi] at which ``tz`` changes its offset (to the second)."""
    target = _offset(tz, hi)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(tz, datetime.fromtimestamp(mid, UTC)) == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


class Schedule:
    """All the ``schedule:`` entries of one workflow: it fires when any of them does."""

    __slots__ = ("crons",)

    def __init__(self, crons: Sequence[CronSchedule]) -> None:
        self.crons = tuple(crons)

    def next_after(self, after: datetime) -> datetime | None:
        if not self.crons:
            return None
        return min(c.next_after(after) for c in self.crons)

    def between(self, start: datetime, end: datetime, limit: int = 1_000_000) -> Iterator[datetime]:
        """Firings ``t`` with ``start <= t <= end``, in order (at most ``limit``)."""
        t = self.next_after(start - timedelta(microseconds=1))
        n = 0
        while t is not None and t <= end and n < limit:
            yield t
            n += 1
            t = self.next_after(t)

    def previous(
        self, before: datetime, horizon: timedelta = timedelta(days=400)
    ) -> datetime | None:
        """The last firing strictly before ``before`` (searched back up to ``horizon``)."""
        last = None
        step = timedelta(hours=1)
        while step <= horizon:
            for t in self.between(before - step, before - timedelta(microseconds=1)):
                last = t
            if last is not None:
                return last
            step *= 4
        return None


_SHARED: dict[tuple[str, str], CronSchedule] = {}


def cron_schedule(expr: str, timezone: str) -> CronSchedule:
    """The shared `CronSchedule` for ``expr`` in ``timezone`` (one object per pair)."""
    key = (expr, timezone)
    sched = _SHARED.get(key)
    if sched is None:
        sched = _SHARED[key] = CronSchedule(expr, ZoneInfo(timezone))
    return sched


def schedule_of(crons: Sequence[str], timezone: str) -> Schedule:
    return Schedule([cron_schedule(c, timezone) for c in dict.fromkeys(crons)])
