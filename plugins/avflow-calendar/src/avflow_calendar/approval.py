"""``calendar.book``'s and ``calendar.hold``'s ``approval:``: ask a person before booking, or
before holding the slots to propose (docs/calendar.md, "Asking first").

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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from avflow import StepContext, StepFailed

if TYPE_CHECKING:
    from avflow_calendar.backends import Backend
    from avflow_calendar.params import BookParams, HoldParams


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


def approval_key(params: BookParams | HoldParams, uid: str, kind: str = "book") -> str:
    """What is approved: the slot(s) and everything the events are made of."""
    booking = params.model_dump(mode="json", exclude={"approval"})
    blob = json.dumps({"uid": uid, **booking}, sort_keys=True)
    return f"{kind}:" + hashlib.sha256(blob.encode()).hexdigest()[:16]


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


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


def ask_to_hold(
    ctx: StepContext, params: HoldParams, groups: list[tuple[str, list[datetime]]]
) -> None:
    """Ask before holding (``calendar.hold``): one preview line per request still to hold (a
    request whose holds were made already, by this run or an earlier one, is not asked for
    again); nothing to hold, nobody is asked. Slots taken while the run waits are skipped
    when it goes on, as without an approval (``refused``): never held twice."""
    from avflow_calendar import ical
    from avflow_calendar.actions import slot_output

    spec = params.approval
    if spec is None:
        return
    span = timedelta(minutes=params.duration_minutes)
    lines, count = [], 0
    for key, starts in groups:
        tok = ical.token(ctx.client.id, f"hold\x00{key}")
        if not starts or ctx.effect_status(f"hold:{tok}", scope="client") == "done":
            continue
        labels = "; ".join(slot_output(s, s + span, ctx)["label"] for s in starts)
        who = "" if params.requests is None else f" for {key}"
        lines.append(f"hold{who}: {labels} in calendar {params.account}")
        count += len(starts)
    if not lines:
        return
    lines.append(f"each hold is released {_hours(params.hold_minutes)} after it is made")
    ctx.request_approval(
        spec.summary or f"Hold {count} slot(s) in {params.account} to propose them?",
        preview=lines,
        timeout=spec.timeout,
        default=spec.default,
        key=approval_key(params, "", "hold"),
    )
