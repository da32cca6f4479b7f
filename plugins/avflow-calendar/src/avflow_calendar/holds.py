"""``calendar.hold``, ``calendar.confirm`` and ``calendar.release_holds``.

A hold is a tentative event (STATUS:TENTATIVE; Google: ``tentative``) under the slot's own UID,
carrying its deadline and the UIDs of the holds proposed with it. It blocks the slot for other
proposals and bookings until the deadline; then it is free (see release.py). Confirming one
turns it into a booking and releases the others of its group.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from avflow import StepContext, StepFailed
from avflow_calendar import ical
from avflow_calendar.accounts import open_all
from avflow_calendar.actions import check_owner, conflicts, create, slot_output
from avflow_calendar.approval import ask_to_hold
from avflow_calendar.backends import Backend, EventExists
from avflow_calendar.change_params import ConfirmParams
from avflow_calendar.params import HoldParams, ReleaseParams
from avflow_calendar.release import expired, release_expired


def _groups(params: HoldParams, ctx: StepContext) -> list[tuple[str, list[datetime]]]:
    """(key, slot starts) per group: one per request, `each` slots apiece, in order."""
    starts = []
    for s in params.slots:
        s = s if s.tzinfo is not None else s.replace(tzinfo=ctx.client.tz)
        starts.append(s.astimezone(UTC))
    if params.requests is None:
        return [(params.idempotency_key or f"{ctx.run.key}#{ctx.step_id}", starts)]
    out, pos = [], 0
    for request in dict.fromkeys(params.requests):
        if request.strip():
            out.append((request, starts[pos : pos + params.each]))
            pos += params.each
    return out


def _hold_one(
    ctx: StepContext, backends: list[Backend], params: HoldParams, start: datetime, **kw: Any
) -> dict[str, Any] | str:
    """Hold one slot (under the calendar's lock): its output, or why it could not be held."""
    end = start + timedelta(minutes=params.duration_minutes)
    uid, tok, until = kw["uid"], kw["tok"], min(kw["deadline"], start)
    label = slot_output(start, end, ctx)["label"]
    target = backends[0]
    before = timedelta(minutes=params.buffer_before_minutes)
    after = timedelta(minutes=params.buffer_after_minutes)
    with target.lock():
        busy, own = conflicts(backends, start - before, end + after, uid, ctx)
        existing = target.get(uid) if own else None
        if existing is None:
            if start <= ctx.now():
                return f"{label}: in the past"
            if busy:
                return f"{label}: no longer free ({busy[0]})"
            event = ical.make_event(
                uid,
                tok,
                start,
                end,
                ctx.now(),
                title=params.title,
                description=params.description,
                held_until=until,
                group=kw["group"],
            )
            try:
                existing = create(target, uid, event, ctx)
            except EventExists as exc:
                existing = exc.event
        try:
            check_owner(existing, tok, label, params.account)
        except StepFailed as exc:
            return str(exc).removeprefix("conflict: ")
    held = ical.hold_until(existing)
    return {
        **slot_output(start, end, ctx),
        "uid": uid,
        "hold_until": held.astimezone(ctx.client.tz).isoformat() if held else None,
    }


def hold(ctx: StepContext, params: HoldParams) -> dict[str, Any]:
    """``calendar.hold``: tentative holds on proposed slots, one group per request."""
    now = ctx.now()
    deadline = now + timedelta(minutes=params.hold_minutes)
    groups: dict[str, list[dict[str, Any]]] = {}
    refused: list[str] = []
    ask_to_hold(ctx, params, _groups(params, ctx))  # with approval: (returns once approved)
    with open_all(ctx, params.accounts()) as backends:
        for key, starts in _groups(params, ctx):
            if not starts:  # no slot left for this request: nothing recorded, a later run tries
                groups[key] = []
                continue
            tok = ical.token(ctx.client.id, f"hold\x00{key}")
            span = timedelta(minutes=params.duration_minutes)
            uids = [ical.slot_uid(ctx.client.id, params.account, s, s + span) for s in starts]

            def perform(
                starts: list[datetime] = starts, uids: list[str] = uids, tok: str = tok
            ) -> Any:
                got = [
                    _hold_one(
                        ctx, backends, params, s, uid=u, tok=tok, deadline=deadline, group=uids
                    )
                    for s, u in zip(starts, uids, strict=True)
                ]
                return {
                    "holds": [g for g in got if isinstance(g, dict)],
                    "refused": [g for g in got if isinstance(g, str)],
                }

            result = ctx.effect(
                f"hold:{tok}",
                f"hold {len(starts)} slots in {params.account} for {key}",
                perform,
                kind="calendar.hold",
                idempotent=True,  # repeating it finds the holds already made (same UIDs)
                scope="client",
            )
            if result is None:  # a dry run
                result = {"holds": [slot_output(s, s + span, ctx) for s in starts], "refused": []}
            groups[key] = [{**h, "request": key} for h in result["holds"]]
            refused += result["refused"]
    flat = [h for items in groups.values() for h in items]
    if params.slots and not flat and not ctx.dry_run and groups:
        raise StepFailed("no slot could be held: " + "; ".join(refused[:3]))
    ctx.log.info("slots held", account=params.account, holds=len(flat), refused=len(refused))
    return {
        "holds": flat,
        "groups": groups,
        "count": len(flat),
        "refused": refused,
        "hold_until": deadline.astimezone(ctx.client.tz).isoformat(),
        "status": "would_hold" if ctx.dry_run else "held",
    }


def _confirmed(event: Any, params: ConfirmParams) -> Any:
    """The hold as a booking: confirmed, no deadline, the step's title and attendees."""
    for prop in ("STATUS", ical.HOLD_UNTIL, ical.HOLD_GROUP):
        event.pop(prop, None)
    event.add("STATUS", "CONFIRMED")
    for prop, value in (
        ("SUMMARY", params.title),
        ("DESCRIPTION", params.description),
        ("LOCATION", params.location),
    ):
        if value is not None:
            event.pop(prop, None)
            event.add(prop, value)
    known = set(ical.attendees_of(event))
    for who in params.attendees:
        if who not in known:
            event.add("ATTENDEE", f"mailto:{who}", parameters={"RSVP": "TRUE"})
    return event


def confirm(ctx: StepContext, params: ConfirmParams) -> dict[str, Any]:
    """``calendar.confirm``: the hold becomes the appointment; its sibling holds are released."""
    uid = params.uid
    with open_all(ctx, [params.account]) as (backend,):

        def perform() -> dict[str, Any]:
            with backend.lock():
                event = backend.get(uid)
                if event is None:
                    raise StepFailed(
                        f"no hold {uid} in {params.account!r}: it was released or cancelled"
                    )
                group = ical.group_of(event)
                until = ical.hold_until(event)
                if until is None:  # confirmed already (a retried or repeated step)
                    return {**ical.describe(event), "group": []}
                if expired(event, ctx.now()):
                    at = until.astimezone(ctx.client.tz)
                    raise StepFailed(
                        f"the hold {uid} expired at {at:%d %b %Y %H:%M %Z} and is released: "
                        "propose new slots"
                    )
                event = _confirmed(event, params)
                backend.update(uid, event)
                return {**ical.describe(event), "group": group, "token": event[ical.BOOKING]}

        result = ctx.effect(
            f"confirm:{uid}",
            f"confirm the hold {uid} in {params.account}",
            perform,
            kind="calendar.confirm",
            idempotent=True,  # a repeat finds it confirmed
        )
        if result is None:
            return {"uid": uid, "status": "would_confirm", "released": []}
        released = []
        if params.release_others:
            for other in result["group"]:
                if other != uid and _release_sibling(ctx, backend, other, result["token"], uid):
                    released.append(other)
    out = {k: v for k, v in result.items() if k not in ("group", "token")}
    return {**out, "account": params.account, "status": "confirmed", "released": released}


def _release_sibling(ctx: StepContext, backend: Backend, uid: str, tok: str, chosen: str) -> bool:
    def perform() -> bool:
        with backend.lock():
            event = backend.get(uid)
            if event is None or ical.hold_until(event) is None:
                return False  # gone, or confirmed itself
            if str(event.get(ical.BOOKING, "")) != tok:
                return False  # held again for another request
            return backend.delete(uid)

    return bool(
        ctx.effect(
            f"release:{uid}:for:{chosen}",
            f"release the hold {uid} in {backend.name} ({chosen} was confirmed)",
            perform,
            kind="calendar.release",
            idempotent=True,
            scope="client",
        )
    )


def release_holds(ctx: StepContext, params: ReleaseParams) -> dict[str, Any]:
    """``calendar.release_holds``: delete every hold of the calendar past its deadline."""
    now = ctx.now()
    with open_all(ctx, [params.account]) as (backend,):
        spans = backend.busy(
            now - timedelta(days=2), now + timedelta(days=params.days), ctx.client.tz
        )
        released = release_expired(ctx, backend, spans)
    due = sorted({b.uid for b in spans if b.hold_until is not None and b.hold_until <= now})
    return {"released": released if not ctx.dry_run else [], "expired": due, "count": len(released)}
