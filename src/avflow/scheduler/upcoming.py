"""The next firings gating lets run: one function for ``avflow next``, ``avflow status`` and the
service's start-up line, so the three never disagree (docs/scheduling.md).

A firing a workflow's ``when: working_hours`` would skip is never announced as "next"; the first
skipped firing before the announced one gives the reason ("outside working hours until then").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from avflow.scheduler.planner import Job

SCAN_LIMIT = 20_000  # firings examined at most for one workflow (a */1 job closed for 2 weeks)


@dataclass(frozen=True, slots=True)
class NextFiring:
    """A workflow's next firing that gating lets run, and why earlier ones would not run."""

    job: Job
    at: datetime
    skipped: int = 0  # firings before ``at`` that gating skips
    reason: str | None = None  # why the first of those is skipped

    @property
    def ref(self) -> str:
        return self.job.ref


def allowed_firings(job: Job, start: datetime, limit: int = SCAN_LIMIT) -> Iterator[datetime]:
    """Firings of ``job`` at or after ``start`` that gating lets run (`next_firing`, repeated)."""
    t = start - timedelta(microseconds=1)
    while (found := next_firing(job, t, limit)) is not None:
        yield found.at
        t = found.at


def next_firing(job: Job, after: datetime, limit: int = SCAN_LIMIT) -> NextFiring | None:
    """The first firing strictly after ``after`` that gating lets run, or None."""
    t = job.schedule.next_after(after)
    reason = None
    for skipped in range(limit):
        if t is None:
            return None
        why = job.gate.reason(t) if job.gate is not None else None
        if why is None:
            return NextFiring(job, t, skipped, reason)
        reason = reason or why
        t = job.schedule.next_after(t)
    return None


def first_firing(jobs: Iterable[Job], after: datetime) -> NextFiring | None:
    """The earliest allowed firing among ``jobs``; jobs are examined in order of their ungated
    next firing and the search stops once no later job can come sooner (10,000 jobs stay fast)."""
    ordered = []
    for job in jobs:  # the planner's next firing when it has one (no cron arithmetic per job)
        t = job.due if job.due is not None and job.due > after else job.schedule.next_after(after)
        if t is not None:
            ordered.append((t, job.ref, job))
    ordered.sort(key=lambda x: (x[0], x[1]))
    best: NextFiring | None = None
    for t, _, job in ordered:
        if best is not None and t >= best.at:
            break
        found = next_firing(job, after)
        if found is not None and (best is None or found.at < best.at):
            best = found
    return best


def city(tz: ZoneInfo) -> str:
    """``Europe/Rome`` -> ``Rome``; ``America/New_York`` -> ``New York``."""
    return tz.key.rsplit("/", 1)[-1].replace("_", " ")


def when_words(t: datetime, tz: ZoneInfo, now: datetime, utc: bool = False) -> str:
    """``Mon 09:00 CET (Rome)``; the date too when it is a week or more away; UTC with ``utc``."""
    local = t.astimezone(UTC if utc else tz)
    far = abs(t - now) >= timedelta(days=6)
    day = f"{local:%a %Y-%m-%d}" if far else f"{local:%a}"
    where = "UTC" if utc else f"{local.tzname()} ({city(tz)})"
    return f"{day} {local:%H:%M} {where}"


def next_words(found: NextFiring | None, tz: ZoneInfo | None, now: datetime, utc: bool) -> str:
    """The start-up's plain sentence about the next real firing."""
    if found is None or tz is None:
        return "next: nothing is scheduled"
    text = f"next: {found.ref} {when_words(found.at, tz, now, utc)}"
    if found.reason:
        text += f" — {found.reason} until then"
    return text


__all__ = [
    "NextFiring",
    "allowed_firings",
    "city",
    "first_firing",
    "next_firing",
    "next_words",
    "when_words",
]
