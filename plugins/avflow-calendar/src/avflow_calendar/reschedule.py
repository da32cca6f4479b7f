"""``calendar.reschedule``: move a booking to another slot, once.

The moved appointment is a new event under the new slot's own UID (so the calendar still
refuses a second event for that slot), a copy of the old one (title, attendees, booking token)
that names the UID it replaced; then the old event is deleted. Repeating it, after a kill at
any point, finds the new event by its UID and finishes the deletion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from avflow import EffectFailed, StepContext
from avflow_calendar import ical
from avflow_calendar.accounts import open_all
from avflow_calendar.actions import conflicts, create, slot_output
from avflow_calendar.backends import Backend, EventExists
from avflow_calendar.change_params import RescheduleParams


def _moved_here(target: Backend, uid: str, start: datetime, ctx: StepContext) -> Any | None:
    """The event that replaced ``uid`` at ``start``, if the move already happened."""
    for b in target.busy(start, start + timedelta(minutes=1), ctx.client.tz):
        if b.start == start and b.uid != uid:
            event = target.get(b.uid)
            if event is not None and str(event.get(ical.MOVED_FROM, "")) == uid:
                return event
    return None


def _move(
    ctx: StepContext, backends: list[Backend], params: RescheduleParams, start: datetime
) -> dict[str, Any]:
    """The move, inside its effect: each refusal is `EffectFailed` (nothing was changed)."""
    target, uid = backends[0], params.uid
    old = target.get(uid)
    if old is None:
        moved = _moved_here(target, uid, start, ctx)
        if moved is not None:
            return {**ical.describe(moved), "previous_uid": uid}
        raise EffectFailed(f"event {uid} in {params.account!r} is not there (cancelled or moved)")
    if old.get(ical.BOOKING) is None:
        raise EffectFailed(f"event {uid} in {params.account!r} was not booked by avflow")
    length = old["DTEND"].dt - old["DTSTART"].dt
    end = start + (
        timedelta(minutes=params.duration_minutes) if params.duration_minutes else length
    )
    new_uid = ical.slot_uid(ctx.client.id, params.account, start, end)
    label = slot_output(start, end, ctx)["label"]
    if new_uid == uid:
        return {**ical.describe(old), "previous_uid": uid}
    if start < ctx.now():
        raise EffectFailed(f"cannot move {uid} to {label}: it is in the past")
    before = timedelta(minutes=params.buffer_before_minutes)
    after = timedelta(minutes=params.buffer_after_minutes)
    busy, own = conflicts(backends, start - before, end + after, new_uid, ctx, ignore=uid)
    existing = target.get(new_uid) if own else None
    if existing is None and busy:
        raise EffectFailed(f"conflict: cannot move {uid} to {label}: it is not free ({busy[0]})")
    if existing is None:
        event = ical.copy_event(old, new_uid, start, end, ctx.now())
        try:
            existing = create(target, new_uid, event, ctx)
        except EventExists as exc:
            existing = exc.event
    if str(existing.get(ical.MOVED_FROM, "")) != uid:
        raise EffectFailed(f"conflict: cannot move {uid} to {label}: another event is there")
    target.delete(uid)
    return {**ical.describe(existing), "previous_uid": uid}


def reschedule(ctx: StepContext, params: RescheduleParams) -> dict[str, Any]:
    """``calendar.reschedule``: the booking ``uid`` moves to ``start``, re-checked first."""
    start = params.start
    start = (start if start.tzinfo else start.replace(tzinfo=ctx.client.tz)).astimezone(UTC)
    with open_all(ctx, params.accounts()) as backends:
        target = backends[0]

        def perform() -> dict[str, Any]:
            with target.lock():
                return _move(ctx, backends, params, start)

        result = ctx.effect(
            f"reschedule:{params.uid}:{ical.utc_text(start)}",
            f"move {params.uid} in {params.account} to {ical.utc_text(start)}",
            perform,
            kind="calendar.reschedule",
            idempotent=True,  # a repeat finds the new event by its UID and finishes
            scope="client",
        )
    if result is None:  # a dry run
        return {"uid": params.uid, "status": "would_reschedule", "start": start.isoformat()}
    s = datetime.fromisoformat(result["start"])
    e = datetime.fromisoformat(result["end"])
    return {
        **result,
        "account": params.account,
        "status": "rescheduled",
        "label": slot_output(s, e, ctx)["label"],
    }
