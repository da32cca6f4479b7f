"""What the service writes to a client's audit trail (and the log) for firings that do not run.

``run.gated``: a firing (or event) outside working time; ``run.missed``: the summary of a
catch-up after downtime; ``run.skipped`` with ``reason: overlap``: the workflow was still running.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from avflow.audit import AuditTrail
from avflow.loader import LoadedWorkflow
from avflow.scheduler.planner import Decision
from avflow.scheduler.store import iso

log = structlog.get_logger("avflow.scheduler")


def record_decision(audit: AuditTrail, d: Decision, wf: LoadedWorkflow) -> None:
    """Record a catch-up summary, or each gated firing, of one decision."""
    job = d.job
    tz = job.gate.tz if job.gate is not None else None
    if d.late:
        details = {
            "policy": job.catch_up,
            "run": [iso(t) for t in d.run],
            "gated": len(d.gated),
            "not_run": d.missed,
            "older_than_grace": d.expired,
            "grace_seconds": job.grace.total_seconds(),
        }
        if d.missed or d.gated or d.expired:
            audit.record(
                job.client,
                "run.missed",
                workflow=job.workflow,
                description=f"{wf.name}: firings missed while the service was not running "
                f"(catch_up: {job.catch_up})",
                details=details,
            )
        log.info("catching up", client=job.client, workflow=job.workflow, **details)
        return
    for t, reason in d.gated:
        local = t.astimezone(tz).isoformat() if tz else iso(t)
        audit.record(
            job.client,
            "run.gated",
            workflow=job.workflow,
            description=f"{wf.name}: not run at {local}: {reason}",
            details={"scheduled_at": iso(t), "reason": reason},
        )
        log.info(
            "firing gated",
            client=job.client,
            workflow=job.workflow,
            scheduled_at=iso(t),
            reason=reason,
        )


def record_overlap(
    audit: AuditTrail, wf: LoadedWorkflow, when: datetime | None, trigger: str
) -> None:
    """Record a firing skipped because the workflow is still running."""
    details = {"reason": "overlap", "trigger": trigger, "scheduled_at": iso(when)}
    audit.record(
        wf.client,
        "run.skipped",
        workflow=wf.id,
        description=f"{wf.name}: still running, this firing is skipped",
        details=details,
    )
    log.info(
        "firing skipped: the workflow is still running",
        client=wf.client,
        workflow=wf.id,
        **details,
    )


def record_gated_event(audit: AuditTrail, wf: LoadedWorkflow, trigger: str, reason: str) -> None:
    audit.record(
        wf.client,
        "run.gated",
        workflow=wf.id,
        description=f"{wf.name}: event not run: {reason}",
        details={"trigger": trigger, "reason": reason},
    )
    log.info("event gated", client=wf.client, workflow=wf.id, trigger=trigger, reason=reason)
