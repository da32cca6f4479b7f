"""Approvals: a run waits durably for a person's decision (docs/approvals.md).

This module is the API the command line and the dashboard use: `pending`, `count_pending`,
`get` and `decide`, each given the process's `avflow.app.App` (typed as `AppParts`, the part of
it they use). The step side (asking, the preview, resuming the run) is in `avflow.approval_flow`;
the SQL in `avflow.approval_store`; the `Approval` record in `avflow.approval_types`.

A decision is committed first (a conditional update: of two deciders, one wins, the other gets a
one-line error), then written with what the decider saw (summary and preview) to the client's
audit trail and fsynced, then marked as recorded. A process killed between the commit and the
record leaves the mark unset; the service writes the missing record later (`catch_up_audit`),
after checking the trail, so the record is never missing and never doubled.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from avflow.approval_types import Approval, Status  # Approval: also from here, as before
from avflow.errors import UsageError

if TYPE_CHECKING:
    import sqlite3

    from avflow.approval_store import ApprovalStore
    from avflow.audit import AuditTrail
    from avflow.clock import Clock
    from avflow.state import State

ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from a screen
ID_LENGTH = 10  # about 49 bits
ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # anything else is unknown without a look-up
AUDIT_GRACE = timedelta(seconds=30)  # a decider's own record is written well within this


class AppParts(Protocol):
    """What these functions use of the process's `avflow.app.App`, which they are given. Typed
    by this protocol, not by `App`: the engine `App` builds imports the approvals' step side,
    which imports this module, so naming `App` here would close an import circle."""

    @property
    def state(self) -> State: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def clock(self) -> Clock: ...


class UnknownApproval(UsageError):
    """No such approval (or not one of the client's): exit 2."""


class AlreadyDecided(UsageError):
    """The approval was decided before (or expired): exit 2."""


def new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def from_values(values: Sequence[Any]) -> Approval:
    """An approval from the values of `avflow.approval_store.FIELDS`, in that order (a row of a
    listed page: read by position, cheaper than by name)."""
    (
        id_, client, workflow, run_id, step, summary, preview,
        created, deadline, default, status, decided_by, decided_at, reason,
    ) = values  # fmt: skip
    return Approval(
        id=id_,
        client=client,
        workflow=workflow,
        run_id=run_id,
        step=step,
        summary=summary,
        preview=list(json.loads(preview or "[]")),
        created_at=datetime.fromisoformat(created),
        deadline=datetime.fromisoformat(deadline) if deadline else None,
        default=default,
        status=status,
        decided_by=decided_by,
        decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
        reason=reason,
    )


def from_row(row: sqlite3.Row) -> Approval:
    """An approval from a row of the approvals table (any columns, read by name)."""
    from avflow.approval_store import FIELDS

    return from_values([row[name] for name in FIELDS])


@lru_cache(maxsize=256)
def _listed(values: tuple[Any, ...]) -> Approval:
    """A listed row's approval, kept by the row's values: a page polled every few seconds (the
    inbox, a client's) lists the same rows again, and each is converted once. The same values
    make the same approval, so a changed row (decided, its preview rewritten) is converted anew;
    a listed approval may be shared between callers: read it, never change its preview."""
    return from_values(values)


def store(app: AppParts) -> ApprovalStore:
    from avflow.approval_store import ApprovalStore

    return ApprovalStore(app.state)


def pending(
    app: AppParts, client: str | None = None, *, limit: int = 50, offset: int = 0
) -> list[Approval]:
    """Pending approvals, oldest first; ``client``: only that client's. One page at a time."""
    limit = max(0, min(int(limit), 500))
    offset = max(0, int(offset))
    return [_listed(tuple(r)) for r in store(app).pending(client, limit, offset)]


def pending_values(
    app: AppParts, client: str | None = None, *, limit: int = 50, offset: int = 0
) -> list[tuple[Any, ...]]:
    """`pending`'s page as the values of `avflow.approval_store.FIELDS`, plain tuples in that
    order, not converted (the dashboard's cards are made of a row only when one is rendered)."""
    limit = max(0, min(int(limit), 500))
    offset = max(0, int(offset))
    return store(app).pending_values(client, limit, offset)


def count_pending(app: AppParts, client: str | None = None) -> int:
    """How many approvals wait for a decision (``client``: only that client's)."""
    return store(app).count_pending(client)


def pending_counts(app: AppParts) -> dict[str, int]:
    """How many approvals wait, per client (clients with none are left out); one query."""
    return store(app).pending_by_client()


def _lookup(app: AppParts, approval_id: str, client: str | None) -> sqlite3.Row:
    well_formed = isinstance(approval_id, str) and ID_SHAPE.fullmatch(approval_id) is not None
    row = store(app).by_id(approval_id) if well_formed else None
    if row is None or (client is not None and row["client"] != client):
        shown = approval_id[:40] if well_formed else "?"
        raise UnknownApproval(f"no approval {shown!r} (see `avflow approvals`)")
    return row


def get(app: AppParts, approval_id: str, *, client: str | None = None) -> Approval:
    """The approval ``approval_id``; `UnknownApproval` (a `UsageError`) if there is none, or if
    ``client`` is given and it is another client's (the same error: nothing leaks)."""
    return from_row(_lookup(app, approval_id, client))


def decide(
    app: AppParts,
    approval_id: str,
    *,
    approve: bool,
    by: str,
    reason: str | None = None,
    client: str | None = None,
) -> Approval:
    """Approve or reject a pending approval; the decision and what the decider saw go into the
    client's audit trail. The run is handed back to the engine by whoever claims it first (the
    service within about two seconds, or `avflow approve` when no service runs).

    Raises `UnknownApproval` (also for another client's approval when ``client`` is given) and
    `AlreadyDecided`, both one-line `UsageError`s.
    """
    row = _lookup(app, approval_id, client)
    status: Status = "approved" if approve else "rejected"
    if not store(app).decide(row["id"], status, by, app.clock.now(), reason):
        raise _already(from_row(_lookup(app, approval_id, client)))
    approval = from_row(_lookup(app, approval_id, client))
    record_decision(app.audit, approval)
    store(app).set_audited(approval.id, 2)
    return approval


def expire(app: AppParts, approval: Approval, now: datetime) -> Approval | None:
    """Take the default of an approval whose deadline has passed (None: someone decided first)."""
    assert approval.default is not None
    reason = f"no decision by the deadline: default {approval.default}"
    if not store(app).decide(approval.id, "expired", "avflow (timeout)", now, reason):
        return None
    done = from_row(_lookup(app, approval.id, None))
    record_decision(app.audit, done)
    store(app).set_audited(done.id, 2)
    return done


def _already(approval: Approval) -> AlreadyDecided:
    if approval.status == "expired":
        what = f"expired ({approval.default} by default)"
    else:
        what = f"already {approval.status}"
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    when = f" at {approval.decided_at.isoformat(timespec='seconds')}" if approval.decided_at else ""
    return AlreadyDecided(f"approval {approval.id} was {what}{by}{when}")


# -- the audit trail ------------------------------------------------------------------------------
def request_details(approval: Approval) -> dict[str, Any]:
    return {
        "approval": approval.id,
        "summary": approval.summary,
        "preview": approval.preview,
        "deadline": approval.deadline.isoformat() if approval.deadline else None,
        "default": approval.default,
    }


def record_request(audit: AuditTrail, approval: Approval) -> None:
    audit.record(
        approval.client,
        "approval.requested",
        workflow=approval.workflow,
        run=approval.run_id,
        step=approval.step,
        description=f"waiting for approval {approval.id}: {approval.summary}",
        details=request_details(approval),
    )
    audit.sync()


def record_decision(audit: AuditTrail, approval: Approval) -> None:
    """What was decided, by whom, when, and what they were shown (fsynced)."""
    audit.record(
        approval.client,
        "approval.decided",
        workflow=approval.workflow,
        run=approval.run_id,
        step=approval.step,
        description=f"approval {approval.id} {approval.status}"
        + (f" by {approval.decided_by}" if approval.decided_by else ""),
        details={
            **request_details(approval),
            "decision": approval.outcome,
            "status": approval.status,
            "by": approval.decided_by,
            "at": approval.decided_at.isoformat() if approval.decided_at else None,
            "reason": approval.reason,
        },
    )
    audit.sync()


def catch_up_audit(app: AppParts) -> int:
    """Write the records a process killed mid-way left out (checked against the trail first)."""
    rows = store(app).unaudited(app.clock.now() - AUDIT_GRACE)
    written = 0
    for row in rows:
        approval = from_row(row)
        seen = {
            r.get("event")
            for r in app.audit.records(approval.client)
            if (r.get("details") or {}).get("approval") == approval.id
        }
        if "approval.requested" not in seen:
            record_request(app.audit, approval)
            written += 1
        level = 1
        if approval.status != "pending":
            if "approval.decided" not in seen:
                record_decision(app.audit, approval)
                written += 1
            level = 2
        store(app).set_audited(approval.id, level)
    return written
