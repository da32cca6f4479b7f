"""What the service says and does once it has started (docs/operations.md, "Start-up").

- The start-up line says in plain words what was loaded and when the next real firing comes,
  skipping gated firings exactly as ``avflow next`` does (`avflow.scheduler.upcoming`).
- The demo first pass: a workflows folder holding ``demo.yaml`` with ``first_pass: true`` (the
  bundled demo does) has each of its enabled workflows run once, whatever the hour, the first
  time a service starts on a home folder; the runs have the trigger ``demo`` (in ``avflow runs``,
  the log and each client's audit trail). The home remembers it (``demo_first_pass`` in
  ``state.db``), so later starts only follow the schedules.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError

from avflow.errors import ConfigError, ConfigErrors, Location
from avflow.models import Strict
from avflow.scheduler.planner import Job
from avflow.scheduler.runner import Task
from avflow.scheduler.store import ScheduleStore, iso
from avflow.scheduler.upcoming import NextFiring, first_firing, next_words

if TYPE_CHECKING:
    from avflow.engine import Engine
    from avflow.loader import Project

log = structlog.get_logger("avflow.scheduler")

DEMO_FILE = "demo.yaml"
DEMO_TRIGGER = "demo"
DEMO_DONE_KEY = "demo_first_pass"


class DemoSettings(Strict):
    """``<workflows>/demo.yaml``: marks a workflows folder as a demo."""

    first_pass: bool = False


def read_demo(workflows: Path) -> DemoSettings:
    """The workflows folder's ``demo.yaml`` (absent: not a demo); mistakes name file:line."""
    from avflow.modelerrors import model_errors
    from avflow.yamlfile import read_doc

    path = workflows / DEMO_FILE
    if not path.exists() and not path.is_symlink():
        return DemoSettings()
    doc = read_doc(path)
    if doc.data is None:
        return DemoSettings()
    if not isinstance(doc.data, dict):
        raise ConfigError("demo.yaml must be a mapping (first_pass: true)", Location(path, 1, 1))
    try:
        return DemoSettings.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigErrors(model_errors(exc, path, doc, [], DemoSettings)) from None


class DemoPass:
    """Runs each workflow once on the first start of a home (see the module's docstring)."""

    def __init__(self) -> None:
        self.wanted = False  # the workflows folder is a demo (`read`)
        self.pending: set[tuple[str, str]] = set()
        self.results: dict[str, int] = {}
        self.active = False

    def read(self, workflows: Path) -> None:
        """Read ``demo.yaml`` before the service starts (a mistake in it: exit 2, file:line)."""
        self.wanted = read_demo(workflows).first_pass

    def start(self, store: ScheduleStore, project: Project, submit: Any, now: datetime) -> None:
        """Submit the first pass if this is a demo and this home has not had one."""
        if not self.wanted or store.status().get(DEMO_DONE_KEY):
            return
        workflows = [wf for wf in project.workflows() if wf.timing.enabled]
        store.set_status(**{DEMO_DONE_KEY: iso(now)})  # once per home, even if killed midway
        log.info(
            "demo first pass",
            workflows=len(workflows),
            refs=[wf.ref for wf in workflows],
            said=f"demo first pass: running each of the {len(workflows)} workflows once now, "
            "whatever the hour (audited, trigger 'demo'); then the schedules apply",
        )
        self.active = True
        for wf in workflows:
            if submit(Task(wf, [], trigger=DEMO_TRIGGER)):
                self.pending.add((wf.client, wf.id))

    def finished(self, task: Task) -> bool:
        """Note a finished task; True when it was the demo pass's last one."""
        if not self.active or task.trigger != DEMO_TRIGGER or task.key not in self.pending:
            return False
        self.pending.discard(task.key)
        for outcome in task.outcomes:
            self.results[outcome.status] = self.results.get(outcome.status, 0) + 1
        if task.error is not None:
            self.results["failed"] = self.results.get("failed", 0) + 1
        if self.pending:
            return False
        self.active = False
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.results.items()))
        log.info("demo first pass finished", said=f"demo first pass done: {counts or 'no runs'}")
        return True


def zone_of(project: Project, client: str) -> ZoneInfo | None:
    c = project.clients.get(client)
    return ZoneInfo(c.profile.timezone) if c is not None else None


def announce_next(
    project: Project, jobs: list[Job], now: datetime, found: NextFiring | None = None
) -> None:
    """Log the next real firing (gating applied), with the reason earlier ones are skipped."""
    found = found or first_firing(jobs, now)
    tz = zone_of(project, found.job.client) if found else None
    log.info(
        "next firing",
        ref=found.ref if found else None,
        at=iso(found.at) if found else None,
        skipped=found.skipped if found else 0,
        reason=found.reason if found else None,
        said=next_words(found, tz, now, False),
    )


def started_fields(
    project: Project, jobs: list[Job], found: NextFiring | None, workflows: Path, home: Path
) -> dict[str, Any]:
    """The fields of the ``service started`` line (``scheduled``: the planner's jobs, one a
    workflow that is enabled and has a schedule; ``next``: the first allowed firing)."""
    nxt = None
    if found is not None:
        tz = zone_of(project, found.job.client)
        nxt = f"{found.ref} at {found.at.astimezone(tz).isoformat(timespec='minutes')}"
    n_wf = len(project.workflows())
    n_cl, n_jobs = len(project.clients), len(jobs)
    return {
        "clients": n_cl,
        "workflows": n_wf,
        "scheduled": n_jobs,
        "next": nxt,
        "home": str(home),
        "said": f"loaded {n_cl} client{'s' * (n_cl != 1)} and {n_wf} workflow"
        f"{'s' * (n_wf != 1)} ({n_jobs} scheduled) from {workflows}; home {home}",
    }


def finish_interrupted(engine: Engine) -> int:
    """Finish the runs a killed process left behind (logged); how many failed."""
    failed = 0
    for outcome in engine.resume_interrupted():
        log.info(
            "interrupted run finished",
            client=outcome.client,
            workflow=outcome.workflow,
            run=outcome.id,
            status=outcome.status,
        )
        failed += outcome.status == "failed"
    return failed


def announce_start(project: Project, jobs: list[Job], service: Any, extra: dict[str, Any]) -> None:
    """The ``service started`` line and the ``next firing`` line (the first allowed firing is
    found once, for both)."""
    now = service.clock.now()
    found = first_firing(jobs, now)
    fields = started_fields(project, jobs, found, service.workflows, service.home)
    log.info("service started", **fields, **extra, once=service.once)
    announce_next(project, jobs, now, found)


__all__ = [
    "DEMO_FILE",
    "DEMO_TRIGGER",
    "DemoPass",
    "DemoSettings",
    "announce_next",
    "announce_start",
    "finish_interrupted",
    "read_demo",
    "started_fields",
]
