"""How a step waits for an approval, and how its run stops and comes back (docs/approvals.md).

A step asks with `StepContext.request_approval` (the ``core.approval`` step does, and so may a
plugin's). The first time, `ApprovalPending` carries the request up to the engine, which computes
the preview (a dry run of the following steps, `avflow.preview`), stores the approval and marks
the step and the run ``waiting`` in one transaction, then records ``approval.requested`` in the
client's audit trail. The run's thread ends there: nothing holds a lock or a thread while it
waits, so the wait survives a restart or a kill.

Once decided, whoever claims the approval first (`ApprovalStore.claim`: the service's watcher, or
``avflow approve`` when no service runs) runs the workflow again from the waiting step
(`Engine.resume_waiting`). The step asks again and now gets the decision: approved, the call
returns and the run goes on; rejected, `ApprovalRejected` stops the run as ``rejected``.

Both signals derive from ``BaseException``, so that a plugin's ``except Exception`` cannot
swallow them and carry on as if approved.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from avflow import redact
from avflow.approval_store import ApprovalStore, iso
from avflow.approval_types import Approval, Choice
from avflow.approvals import from_row, new_id, record_request
from avflow.builtin_params import working_days
from avflow.errors import ApprovalPending, ApprovalRejected, StepFailed
from avflow.models import parse_duration
from avflow.worktime import (
    HORIZON_DAYS,
    add_working_time,
    is_closed_day,
    local_to_utc,
    next_working_time,
)

if TYPE_CHECKING:
    from avflow.api import ClientInfo
    from avflow.audit import AuditTrail
    from avflow.runtypes import RunInfo

__all__ = [
    "ApprovalPending",
    "ApprovalRejected",
    "ApprovalRequest",
    "add_working_days",
    "ask",
    "begin_wait",
]

MAX_SUMMARY = 2000
MAX_PREVIEW = 200  # lines; more are summed up in one line
MAX_LINE = 1000  # characters of a preview line (an effect's description); longer ones are cut


@dataclass(frozen=True)
class ApprovalRequest:
    """What a step asks for (see `StepContext.request_approval`)."""

    key: str
    summary: str
    preview: tuple[str, ...] | None
    timeout: float | None
    timeout_text: str | None
    default: Choice | None
    days: int | None = None  # the timeout counts whole working days (written ``2d``)


def add_working_days(info: ClientInfo, start: datetime, days: int) -> datetime | None:
    """The same time of day ``days`` working days after ``start`` (counted from the client's next
    opening when ``start`` is outside its working time; a day is a working day when it has
    working hours and is neither closed nor a public holiday), or the next working instant
    after that time when the day's hours do not include it. A client with no working hours
    counts plain days; None: no working day within `avflow.worktime.HORIZON_DAYS`."""
    if not info.working_hours:
        return start.astimezone(UTC) + timedelta(days=days)
    opening = next_working_time(info, start)
    if opening is None:
        return None
    local = opening.astimezone(info.tz)
    day, counted = local.date(), 0
    for _ in range(HORIZON_DAYS):
        if counted == days:
            wall = datetime.combine(day, local.time().replace(tzinfo=None))
            return next_working_time(info, local_to_utc(wall, info.tz))
        day += timedelta(days=1)
        if info.working_hours.get(day.weekday()) and not is_closed_day(info, day):
            counted += 1
    return None


def make_request(
    summary: str,
    *,
    preview: Sequence[str] | None,
    timeout: float | str | None,
    default: str | None,
    key: str,
) -> ApprovalRequest:
    """Check a plugin's arguments (a mistake is the step's failure, a clear one)."""
    if not isinstance(summary, str) or not summary.strip():
        raise StepFailed("request_approval: the summary must be a non-empty text")
    if default not in (None, "approve", "reject"):
        raise StepFailed(f"request_approval: default must be approve or reject, not {default!r}")
    try:
        seconds = None if timeout is None else parse_duration(timeout)
        days = working_days(timeout)
    except ValueError as exc:
        raise StepFailed(f"request_approval: timeout: {exc}") from None
    if default is not None and seconds is None:
        raise StepFailed("request_approval: a default needs a timeout")
    lines = None if preview is None else tuple(str(p) for p in preview)
    return ApprovalRequest(
        key=str(key),
        summary=redact.redact(summary.strip()[:MAX_SUMMARY]),
        preview=None if lines is None else tuple(redact.redact(x) for x in lines),
        timeout=seconds,
        timeout_text=None if timeout is None else str(timeout),
        default=default,  # type: ignore[arg-type]
        days=days,
    )


def ask(store: ApprovalStore, run: RunInfo, step: str, request: ApprovalRequest) -> Approval:
    """The decision if there is one: returns when approved, raises `ApprovalRejected` when
    rejected, `ApprovalPending` while nobody has decided (or nothing was asked yet)."""
    row = store.for_step(run.id, step, request.key)
    if row is None:
        raise ApprovalPending(request)
    approval = from_row(row)
    if approval.outcome == "approve":
        return approval
    if approval.outcome == "reject":
        raise ApprovalRejected(approval)
    raise ApprovalPending(request, approval)


def dry_approval(run: RunInfo, step: str, request: ApprovalRequest, now: datetime) -> Approval:
    """In a dry run nothing waits: the steps after it are shown as if it were approved."""
    return Approval(
        id="dry-run",
        client=run.client,
        workflow=run.workflow,
        run_id=run.id,
        step=step,
        summary=request.summary,
        preview=list(request.preview or ()),
        created_at=now,
        deadline=None,
        default=request.default,
        status="approved",
        decided_by="dry run",
        decided_at=now,
        reason=None,
    )


def approved_outputs(approval: Approval) -> dict[str, Any]:
    """What a ``core.approval`` step outputs once approved (later steps may use them)."""
    return {
        "approved": True,
        "approval": approval.id,
        "status": approval.status,
        "decided_by": approval.decided_by,
        "reason": approval.reason,
    }


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def begin_wait(
    *,
    store: ApprovalStore,
    audit: AuditTrail,
    info: ClientInfo,
    run: RunInfo,
    step: str,
    position: int,
    signal: ApprovalPending,
    preview: list[str],
    now: datetime,
) -> Approval:
    """Store a new approval (or find the stored one) and mark the step and run ``waiting``."""
    if signal.existing is not None:
        store.wait_again(run.id, step, position)
        return signal.existing
    req = signal.request
    lines = [_cut(line) for line in (*(req.preview or ()), *preview)]
    if len(lines) > MAX_PREVIEW:
        lines = [*lines[: MAX_PREVIEW - 1], f"... and {len(lines) - MAX_PREVIEW + 1} more"]
    if req.days is not None:
        deadline = add_working_days(info, now, req.days)
    else:
        deadline = None if req.timeout is None else add_working_time(info, now, req.timeout)
    row: dict[str, Any] = {
        "id": new_id(),
        "client": run.client,
        "workflow": run.workflow,
        "run_id": run.id,
        "step": step,
        "key": req.key,
        "summary": req.summary,
        "preview": lines,
        "created_at": iso(now),
        "deadline": None if deadline is None else iso(deadline),
        "on_timeout": req.default,
        "timeout": req.timeout_text,
        "status": "pending",
    }
    if not store.create(row, position):  # asked concurrently: the stored one stands
        store.wait_again(run.id, step, position)
        found = store.for_step(run.id, step, req.key)
        assert found is not None
        return from_row(found)
    stored = store.by_id(row["id"])
    assert stored is not None
    approval = from_row(stored)
    record_request(audit, approval)
    store.set_audited(approval.id, 1)
    return approval
