"""A client page's schedule figures, computed once a minute.

Schedules are cron expressions of five fields, so every firing falls on a whole minute: from any
instant of a minute, the next firings, the next one gating lets run and the firings due by then
(a workflow's silent check) are those seen from the minute's start. The dashboard computes them
once per client (as loaded: a reloaded project's clients are new objects) and minute, and a page
polled every few seconds reuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from avflow.dashboard import views
from avflow.loader import Client, LoadedWorkflow
from avflow.scheduler.status import health
from avflow.scheduler.upcoming import NextFiring


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


class ScheduleFigures:
    """Upcoming firings and workflow health, kept for the current minute."""

    def __init__(self) -> None:
        self._minute: datetime | None = None
        self._kept: dict[Any, tuple[Client, Any]] = {}
        self._now: datetime | None = None  # the instant last asked about, and its minute
        self._now_minute: datetime = datetime.min

    def _minute_of(self, now: datetime) -> datetime:
        """``now``'s minute (worked out once for the instant a page asks about)."""
        if now is not self._now:
            self._now, self._now_minute = now, _minute(now)
        return self._now_minute

    def _get(self, key: tuple[Any, ...], client: Client, now: datetime) -> Any:
        minute = self._minute_of(now)
        if minute != self._minute:  # a new minute: the figures kept are of no more use
            self._kept.clear()
            self._minute = minute
        hit = self._kept.get((id(client), minute, *key))
        return hit[1] if hit is not None and hit[0] is client else None

    def _keep(self, key: tuple[Any, ...], client: Client, now: datetime, value: Any) -> None:
        self._kept[(id(client), self._minute_of(now), *key)] = (client, value)

    def upcoming(self, client: Client, now: datetime, count: int = 12) -> list[views.Firing]:
        """`views.upcoming` of ``client`` at ``now``."""
        found = self._get(("upcoming", count), client, now)
        if found is None:
            found = views.upcoming(client, _minute(now), count + 4)
            self._keep(("upcoming", count), client, now, found)
        return [f for f in found if f.at > now][:count]

    def health(
        self,
        client: Client,
        wf: LoadedWorkflow,
        last: Any,
        persisted: Mapping[tuple[str, str], Any],
        now: datetime,
    ) -> tuple[NextFiring | None, list[str]]:
        """`avflow.scheduler.status.health` of ``wf`` at ``now``."""
        seen = persisted.get((client.id, wf.id))
        key = ("health", wf.id, tuple(last) if last is not None else None, seen)
        hit = self._get(key, client, now)
        if hit is None or (hit[0] is not None and hit[0].at <= now):
            hit = health(client, wf, last, persisted, _minute(now))
            self._keep(key, client, now, hit)
        found, flags = hit
        return found, list(flags)
