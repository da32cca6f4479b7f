"""``calendar.book``'s ``approval:``: ask a person before booking (docs/calendar.md).

The step asks through `avflow.StepContext.request_approval`, showing what it will book: the
slot in the client's local time, the calendar, the attendees. The approval's key is a digest of
that booking, so a booking changed while the run waited (its workflow edited) is asked for
again, never booked on an approval given for another one. Once approved, the booking effect
re-checks the slot under the calendar's lock, as every booking does: a slot taken meanwhile
fails the step, nothing is booked.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING

from avflow import StepContext, StepFailed

if TYPE_CHECKING:
    from avflow_calendar.backends import Backend
    from avflow_calendar.params import BookParams


def preview(params: BookParams, label: str) -> list[str]:
    """What the person deciding sees: the booking, line by line."""
    lines = [f"book {params.title!r} on {label} in calendar {params.account}"]
    if params.also_busy:
        lines.append(f"checked free in: {', '.join(params.also_busy)}")
    lines.append(f"attendees: {', '.join(params.attendees) or 'none'}")
    if params.organizer:
        lines.append(f"organizer: {params.organizer}")
    where = params.location or params.video_link
    if where:
        lines.append(f"where: {where}")
    return lines


def approval_key(params: BookParams, uid: str) -> str:
    """The booking approved: its slot (uid) and everything the event is made of."""
    booking = params.model_dump(mode="json", exclude={"approval"})
    blob = json.dumps({"uid": uid, **booking}, sort_keys=True)
    return "book:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def ask_first(
    ctx: StepContext,
    params: BookParams,
    backends: list[Backend],
    span: tuple[datetime, datetime],
    uid: str,
    label: str,
    start: datetime,
) -> None:
    """Ask before booking (returns once approved; raises the core's signals while waiting or
    when rejected). A slot that is not free, or past, fails the step before anyone is asked;
    ``span`` is the slot with its buffers."""
    from avflow_calendar.actions import conflicts

    spec = params.approval
    if spec is None:
        return
    if not ctx.dry_run:
        if start < ctx.now():
            raise StepFailed(f"{label} is in the past: nothing booked")
        busy, _ = conflicts(backends, span[0], span[1], uid, ctx)
        if busy:
            raise StepFailed(f"conflict: {label} is not free ({busy[0]}): nothing booked")
    ctx.request_approval(
        spec.summary or f"Book {params.title!r} on {label} in {params.account}?",
        preview=preview(params, label),
        timeout=spec.timeout,
        default=spec.default,
        key=approval_key(params, uid),
    )
