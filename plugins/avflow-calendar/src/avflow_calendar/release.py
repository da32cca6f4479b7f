"""Releasing tentative holds whose deadline has passed.

A hold stops blocking time the instant its deadline passes: every reader leaves it out
(`slots.live`), whether or not it has been deleted yet. The event itself is deleted by the next
calendar step that reads that part of the calendar (or by ``calendar.release_holds``), as one
effect in the client's ledger keyed by the hold and its deadline: a hold is released once, a
run killed halfway releases it on the next pass, and a hold confirmed meanwhile is kept (the
event is read again under the calendar's lock before it is deleted).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from avflow import StepContext
from avflow_calendar import ical
from avflow_calendar.backends import Backend
from avflow_calendar.slots import Busy


def expired(event: Any, now: datetime) -> bool:
    """Whether ``event`` is a hold whose deadline has passed."""
    until = ical.hold_until(event)
    return until is not None and until <= now


def release_one(ctx: StepContext, backend: Backend, uid: str, deadline: datetime) -> str:
    """Delete the hold ``uid`` if it is still that hold and expired: ``released`` or ``kept``."""
    text = ical.utc_text(deadline)

    def perform() -> str:
        with backend.lock():
            event = backend.get(uid)
            if event is None:
                return "gone"
            if ical.hold_until(event) != deadline or not expired(event, ctx.now()):
                return "kept"  # confirmed, or held again with another deadline
            backend.delete(uid)
            return "released"

    result = ctx.effect(
        f"release:{uid}:{text}",
        f"release the hold {uid} in {backend.name} (expired {text})",
        perform,
        kind="calendar.release",
        idempotent=True,
        scope="client",
    )
    return str(result or "would_release")


def release_expired(ctx: StepContext, backend: Backend, spans: Iterable[Busy]) -> list[str]:
    """Release the expired holds among ``spans`` (read from ``backend``); their UIDs."""
    now = ctx.now()
    due: dict[str, datetime] = {}
    for b in spans:
        if b.hold_until is not None and b.hold_until <= now and b.uid:
            due[b.uid] = b.hold_until
    if ctx.dry_run:
        return []
    released = []
    for uid, deadline in due.items():
        if release_one(ctx, backend, uid, deadline) == "released":
            released.append(uid)
    if released:
        ctx.log.info("expired holds released", account=backend.name, holds=len(released))
    return released
