"""What ``avflow status`` reports: the service's heartbeat, and each workflow's health.

A workflow is **failing** when its last finished run failed, and **silent** when at least two
firings that gating would let run have come and gone since its last run (or since the service
first saw it) without a run: "no run in twice its expected interval".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from avflow.app import App
from avflow.loader import Client, LoadedWorkflow
from avflow.scheduler.planner import ON_TIME, job_for
from avflow.scheduler.service import service_lock
from avflow.scheduler.store import ScheduleStore, iso, parse_iso
from avflow.scheduler.upcoming import NextFiring, next_firing


def _shown(t: datetime | None) -> str:
    """A service time in this machine's zone, with its abbreviation (``UTC`` under ``TZ=UTC``)."""
    if t is None:
        return "?"
    local = t.astimezone()
    return f"{local:%a %Y-%m-%d %H:%M:%S} {local.tzname()}"


def _service(store: ScheduleStore, home: Path, now: datetime) -> dict[str, Any]:
    st = store.status()
    # a running service holds its lock file: none there, none running (and none is created)
    running = (home / "service.lock").exists() and service_lock(home).is_held_elsewhere()
    beat = parse_iso(st.get("heartbeat"))
    age = (now - beat).total_seconds() if beat else None
    if running:
        summary = f"running (pid {st.get('pid', '?')}), heartbeat {int(age or 0)}s ago"
        if age is not None and age > 3 * float(st.get("heartbeat_every", 60)):
            summary += " (STALE: the service may be hung)"
    elif st.get("state") == "stopped":
        summary = f"not running (stopped cleanly at {_shown(beat)})"
    elif st:
        summary = (
            f"not running (did not stop cleanly: killed or crashed after its last heartbeat, "
            f"{_shown(beat)}; interrupted runs finish at the next start)"
        )
    else:
        summary = "never started for this home folder"
    return {
        "running": running,
        "pid": st.get("pid"),
        "heartbeat": st.get("heartbeat"),
        "heartbeat_age_seconds": age,
        "started_at": st.get("started_at"),
        "summary": summary,
    }


def health(
    client: Client,
    wf: LoadedWorkflow,
    last: Any,
    persisted: Mapping[tuple[str, str], tuple[str, datetime | None, datetime]],
    now: datetime,
) -> tuple[NextFiring | None, list[str]]:
    """A workflow's next firing gating lets run, and its flags (``silent``, ``failing``).

    ``last``: its last run that counts (not dry, not skipped; a row with ``status``,
    ``scheduled_at`` and ``created_at``) or None; ``persisted``: `ScheduleStore.load`'s answer.
    Shared with the dashboard, so both say the same of a workflow.
    """
    job = job_for(client, wf)
    flags = []
    found = None
    if job is not None:
        _, _, first_seen = persisted.get(job.key, (None, None, None))
        found = next_firing(job, now)  # gating applied, as `avflow next` and the start-up do
        since = parse_iso(last["scheduled_at"] or last["created_at"]) if last else first_seen
        if since is not None:
            expected = 0
            for t in job.schedule.between(
                since + timedelta(microseconds=1), now - ON_TIME, limit=10_000
            ):
                if job.gate is None or job.gate.reason(t) is None:
                    expected += 1
                    if expected >= 2:
                        flags.append("silent")
                        break
    if last is not None and last["status"] == "failed":
        flags.append("failing")
    return found, flags


def collect(app: App, home: Path) -> dict[str, Any]:
    project = app.project
    store = ScheduleStore(app.state)
    now = app.clock.now()
    persisted = store.load()
    out = []
    for wf in project.workflows():
        client = project.clients[wf.client]
        tz = ZoneInfo(client.profile.timezone)
        rows = app.state.last_counted_run(wf.client, wf.id)
        found, flags = health(client, wf, rows, persisted, now)
        nxt, reason = (found.at, found.reason) if found else (None, None)
        last = parse_iso(rows["scheduled_at"] or rows["created_at"]) if rows else None
        out.append(
            {
                "client": wf.client,
                "workflow": wf.id,
                "name": wf.name,
                "enabled": wf.model.enabled,
                "last_run": last.astimezone(tz).isoformat() if last else None,
                "last_status": rows["status"] if rows else None,
                "last_error": rows["error"] if rows else None,
                "next": iso(nxt),
                "next_local": nxt.astimezone(tz).isoformat() if nxt else None,
                "next_skips": reason,  # why earlier firings are skipped (gating), if any
                "timezone": tz.key,
                "flags": flags,
            }
        )
    return {
        "service": _service(store, home, now),
        "now": now.astimezone(UTC).isoformat(),
        "workflows": out,
    }
