"""What each dashboard page shows, built from the store, the loaded project and the scheduler.

Nothing here renders HTML or knows of requests: `avflow.dashboard.web` does. Times are shown in
the client's local time with its zone's abbreviation. Upcoming firings and a workflow's health
come from the scheduler's own code (`job_for`, its `Schedule` and `Gate`, `status.health`), so
the dashboard and ``avflow next``/``avflow status`` always agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from avflow.app import App
from avflow.dashboard.fragments import RowLines
from avflow.dashboard.store import DashboardStore
from avflow.loader import Client, Project
from avflow.scheduler.planner import job_for
from avflow.scheduler.status import health
from avflow.scheduler.store import ScheduleStore, parse_iso
from avflow.scheduler.upcoming import NextFiring

PAGE = 50  # clients a page of the home page lists
RUNS_PAGE = 25  # runs a page lists


class Source(Protocol):
    """Where the pages read from: the service's object graph and its current project."""

    @property
    def app(self) -> App: ...

    @property
    def project(self) -> Project: ...


class AppSource:
    """A `Source` over an `App` (tests, benchmarks, a dashboard without the service)."""

    def __init__(self, app: App) -> None:
        self._app = app

    @property
    def app(self) -> App:
        return self._app

    @property
    def project(self) -> Project:
        return self._app.project


@lru_cache(maxsize=8192)
def local(value: str | datetime | None, tz: ZoneInfo) -> str:
    """``Tue 2026-03-03 09:00 CET``: a stored UTC time on the client's wall clock (kept: a page
    polled every few seconds shows the same times again)."""
    t = parse_iso(value) if isinstance(value, str) else value
    if t is None:
        return ""
    lt = t.astimezone(tz)
    return f"{lt:%a %Y-%m-%d %H:%M} {lt.tzname()}"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_of(client: Client) -> ZoneInfo:
    return zone(client.profile.timezone)


class Firing(NamedTuple):
    """One upcoming firing of a client's workflow, gated or not."""

    workflow: str
    name: str
    at: datetime
    local: str
    gated: str | None  # why gating would skip it, or None


def upcoming(client: Client, now: datetime, count: int = 12, scan: int = 500) -> list[Firing]:
    """The client's next ``count`` firings, all workflows merged, gated ones marked.

    A workflow gated for a long stretch (a night, a holiday) shows its gated firings up to
    ``scan`` per workflow, never an endless loop.
    """
    tz = zone_of(client)
    gates: dict[str, Any] = {}
    found: list[Firing] = []
    for wf in client.workflows.values():
        job = job_for(client, wf, gates)
        if job is None:
            continue
        t = job.schedule.next_after(now)
        for _ in range(min(count, scan)):
            if t is None:
                break
            reason = job.gate.reason(t) if job.gate is not None else None
            found.append(Firing(wf.id, wf.name, t, local(t, tz), reason))
            t = job.schedule.next_after(t)
    found.sort(key=lambda f: (f.at, f.workflow))
    return found[:count]


@dataclass(frozen=True)
class RunLines(RowLines):
    """A page of runs as the query returned them (plain tuples: part of a kept page's key,
    `pagecache`), a line (a dict, times on the client's wall clock) made of a row only when it
    is rendered (`fragments.Fragments` keeps each line's HTML by its row and time zone)."""

    names: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    tz: ZoneInfo

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self.line, self.rows)

    def context(self) -> Hashable:
        return (self.names, self.tz)

    def line(self, row: tuple[Any, ...]) -> dict[str, Any]:
        line = dict(zip(self.names, row, strict=True))
        line["when"] = local(line["scheduled_at"] or line["created_at"], self.tz)
        line["finished"] = local(line["finished_at"], self.tz)
        return line


class ClientRow(NamedTuple):
    """One line of the home page's client list (a named tuple, as every line of a list: a
    page's values are its key, `pagecache`, hashed and compared in C)."""

    id: str
    name: str
    zone: str
    workflows: int
    last_status: str | None = None
    last_workflow: str | None = None
    last_at: str = ""
    failing: tuple[str, ...] = ()  # tuples, not lists: a line's values are its key (fragments)
    pending: int = 0


def client_page(project: Project, scope: list[str] | None, page: int) -> tuple[list[str], bool]:
    """The ids of one page of the clients the viewer may see, and whether more follow."""
    ids = sorted(project.clients) if scope is None else sorted(set(scope) & set(project.clients))
    first = max(page, 0) * PAGE
    return ids[first : first + PAGE], len(ids) > first + PAGE


def page_workflows(project: Project, ids: list[str]) -> list[tuple[str, str]]:
    """The (client, workflow) pairs of a page of clients."""
    return [(cid, wf) for cid in ids for wf in sorted(project.clients[cid].workflows)]


def client_rows(
    src: Source, store: DashboardStore, ids: list[str], pending: dict[str, int], now: datetime
) -> list[ClientRow]:
    """The home page's lines for ``ids`` (three queries, whatever the number of clients)."""
    project = src.project
    last = store.last_runs(ids)
    failing = store.failing(page_workflows(project, ids))
    rows = []
    for cid in ids:
        client = project.clients[cid]
        tz = zone_of(client)
        run = last.get(cid)
        rows.append(
            ClientRow(
                cid,
                client.profile.name,
                f"{client.profile.timezone} ({now.astimezone(tz).tzname()})",
                len(client.workflows),
                run["status"] if run is not None else None,
                run["workflow"] if run is not None else None,
                local(run["scheduled_at"] or run["created_at"], tz) if run is not None else "",
                failing=tuple(sorted(failing.get(cid, []))),
                pending=pending.get(cid, 0),
            )
        )
    return rows


class WorkflowHealth(NamedTuple):
    """A workflow on its client's page: last run, next firing, flags."""

    id: str
    name: str
    enabled: bool
    last_status: str | None
    last_at: str
    last_error: str | None
    next_at: str  # the next firing gating lets run
    skips: str | None  # why earlier firings would be skipped (gating), if any
    flags: tuple[str, ...]


def workflows_health(
    src: Source,
    store: DashboardStore,
    schedule: ScheduleStore,
    client: Client,
    health_of: Callable[..., tuple[NextFiring | None, list[str]]] = health,
    now: datetime | None = None,
) -> list[WorkflowHealth]:
    """Each workflow of ``client`` with ``avflow status``'s failing and silent flags
    (``health_of``: `status.health`, or the dashboard's figures kept for the minute), at ``now``
    (the clock's time by default)."""
    now = now or src.app.clock.now()
    tz = zone_of(client)
    persisted = schedule.load(client.id)
    out = []
    for wf in sorted(client.workflows.values(), key=lambda w: w.id):
        last = store.last_real_run(client.id, wf.id)
        found, flags = health_of(client, wf, last, persisted, now)
        out.append(
            WorkflowHealth(
                wf.id,
                wf.name,
                wf.model.enabled,
                last["status"] if last else None,
                local(last["scheduled_at"] or last["created_at"], tz) if last else "",
                last["error"] if last else None,
                local(found.at, tz) if found else "",
                found.reason if found else None,
                tuple(flags),
            )
        )
    return out


def effects_of(app: App, run_id: str) -> list[dict[str, Any]]:
    """A run's effects as the ledger reports them (status worked out as ``avflow effects`` does)."""
    return [
        {
            "step": e.step,
            "kind": e.kind,
            "key": e.key,
            "description": e.description,
            "status": e.status,
            "result": json.dumps(e.result, default=str)[:500] if e.result is not None else "",
        }
        for e in app.ledger.of_run(run_id)
    ]
