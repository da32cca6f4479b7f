"""The ``calendar.free_slots`` and ``calendar.book`` actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from avflow import EffectFailed, StepContext
from avflow_calendar import ical
from avflow_calendar.accounts import open_all
from avflow_calendar.approval import ask_first
from avflow_calendar.backends import Backend, EventExists
from avflow_calendar.params import BookParams, FreeSlotsParams
from avflow_calendar.release import expired, release_expired
from avflow_calendar.slots import BusyIndex, Rules, bookings_per_day, find, live


def _aware(value: datetime | date, ctx: StepContext) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ctx.client.tz)
    return value.astimezone(UTC)


def _local(instant: datetime, ctx: StepContext) -> datetime:
    return instant.astimezone(ctx.client.tz)


def slot_output(start: datetime, end: datetime, ctx: StepContext) -> dict[str, Any]:
    s, e = _local(start, ctx), _local(end, ctx)
    return {
        "start": s.isoformat(),
        "end": e.isoformat(),
        "start_utc": start.isoformat(),
        "label": f"{s:%a %d %b %Y}, {s:%H:%M}-{e:%H:%M} {e.tzname()}"
        if s.tzname() == e.tzname()  # else a slot across a clock change: 02:30 CEST-02:00 CET
        else f"{s:%a %d %b %Y}, {s:%H:%M} {s.tzname()}-{e:%H:%M} {e.tzname()}",
    }


def free_slots(ctx: StepContext, params: FreeSlotsParams) -> dict[str, Any]:
    """``calendar.free_slots``: free slots inside the client's working hours."""
    client = ctx.client
    now = ctx.now().astimezone(UTC)
    start = max(now, _aware(params.start, ctx)) if params.start is not None else now
    end = start + timedelta(days=params.days)
    rules = Rules(
        tz=client.tz,
        hours=client.working_hours,
        duration=timedelta(minutes=params.duration_minutes),
        step=timedelta(minutes=params.step_minutes),
        buffer_before=timedelta(minutes=params.buffer_before_minutes),
        buffer_after=timedelta(minutes=params.buffer_after_minutes),
        notice=timedelta(minutes=params.min_notice_minutes),
        max_per_day=params.max_per_day,
        closed=[*client.closed, *((d, d) for d in params.closed)],
        holidays_of=client if params.holidays else None,
    )
    # From the first day's local midnight (its bookings count for max_per_day), buffers around.
    first = datetime.combine(_local(start + rules.notice, ctx).date(), time(0), tzinfo=client.tz)
    window = (first.astimezone(UTC) - rules.buffer_before, end + rules.buffer_after)
    with open_all(ctx, params.accounts()) as backends:
        spans = []
        for i, backend in enumerate(backends):
            if i:  # another calendar: its busy time is enough (Google: one freeBusy query)
                spans += live(backend.free_busy(*window, client.tz), ctx.now())
                continue
            got = backend.busy(*window, client.tz)
            release_expired(ctx, backend, got)
            spans += live(got, ctx.now())
    found = find(
        rules, BusyIndex(spans), bookings_per_day(spans, client.tz), start, end, params.count
    )
    slots = [slot_output(s, e, ctx) for s, e in found]
    ctx.log.info("free slots found", account=params.account, slots=len(slots))
    return {"slots": slots, "count": len(slots), "timezone": client.timezone}


def conflicts(
    backends: list[Backend],
    start: datetime,
    end: datetime,
    uid: str,
    ctx: StepContext,
    ignore: str = "",
) -> tuple[list[str], bool]:
    """What is busy in [start, end) in every calendar (one query each; holds past their
    deadline are free, ``ignore`` is an event being moved), and whether the first calendar
    already holds an event with ``uid``."""
    found, own = [], False
    for i, backend in enumerate(backends):
        read = backend.free_busy if i else backend.busy
        for b in live(read(start, end, ctx.client.tz), ctx.now()):
            if b.uid == uid:
                own = own or i == 0
            elif (not ignore or b.uid != ignore) and b.start < end and b.end > start:
                found.append(f"{backend.name}: busy {slot_output(b.start, b.end, ctx)['label']}")
    return found, own


def check_owner(event: Any, tok: str, label: str, account: str) -> None:
    """A conflict unless ``event`` carries the booking token ``tok`` (`EffectFailed`: raised
    inside an effect, it records that nothing was done, not an unknown outcome)."""
    if str(event.get(ical.BOOKING, "")) == tok:
        return
    until = ical.hold_until(event)
    if until is not None:
        raise EffectFailed(
            f"conflict: {label} in {account!r} is held for another request until "
            f"{until:%Y-%m-%d %H:%M} UTC"
        )
    raise EffectFailed(f"conflict: {label} in {account!r} was booked by another run")


def create(target: Backend, uid: str, event: Any, ctx: StepContext) -> Any:
    """Create ``event`` (the caller holds the lock): the event now under ``uid``. A hold of that
    very slot whose deadline has passed gives way; any other event there is `EventExists`."""
    try:
        target.create(uid, event)
    except EventExists as exc:
        if not expired(exc.event, ctx.now()):
            raise
        ctx.note("expired hold replaced", uid=uid, account=target.name)
        target.delete(uid)
        target.create(uid, event)
    return event


def book(ctx: StepContext, params: BookParams) -> dict[str, Any]:
    """``calendar.book``: create the appointment once, after checking the slot is still free."""
    client = ctx.client
    start = _aware(params.start, ctx)
    end = start + timedelta(minutes=params.duration_minutes)
    uid = ical.slot_uid(client.id, params.account, start, end)
    owner = params.idempotency_key or f"{ctx.run.key}#{ctx.step_id}"
    tok = ical.token(client.id, owner)
    label = slot_output(start, end, ctx)["label"]
    before = timedelta(minutes=params.buffer_before_minutes)
    after = timedelta(minutes=params.buffer_after_minutes)

    def mine(event: Any) -> dict[str, Any]:
        check_owner(event, tok, label, params.account)
        return {**ical.describe(event), "account": params.account, "status": "booked"}

    with open_all(ctx, params.accounts()) as backends:
        target = backends[0]
        ask_first(ctx, params, backends, (start - before, end + after), uid, label, start)

        def perform() -> dict[str, Any]:
            with target.lock():
                busy, own = conflicts(backends, start - before, end + after, uid, ctx)
                existing = target.get(uid) if own else None
                if existing is not None:
                    return mine(existing)
                if start < ctx.now():
                    raise EffectFailed(f"{label} is in the past")
                if busy:
                    raise EffectFailed(f"conflict: {label} is no longer free ({busy[0]})")
                event = ical.make_event(
                    uid,
                    tok,
                    start,
                    end,
                    ctx.now(),
                    title=params.title,
                    description=params.description,
                    location=params.location or params.video_link,
                    url=params.video_link,
                    organizer=params.organizer,
                    attendees=params.attendees,
                )
                try:
                    create(target, uid, event, ctx)
                except EventExists as exc:
                    return mine(exc.event)
                return {**ical.describe(event), "account": params.account, "status": "booked"}

        def reconcile() -> dict[str, Any] | None:
            existing = target.get(uid)
            return None if existing is None else mine(existing)

        result = ctx.effect(
            f"book:{uid}:{tok[:12]}",
            f"book {params.title!r} on {label} in {params.account}",
            perform,
            kind="calendar.book",
            reconcile=reconcile,
        )
        if result is None:  # a dry run: say whether it would succeed
            busy, _ = conflicts(backends, start - before, end + after, uid, ctx)
            result = {
                "uid": uid,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "title": params.title,
                "account": params.account,
                "status": "would_conflict" if busy else "would_book",
            }
    result["label"] = label
    return result
