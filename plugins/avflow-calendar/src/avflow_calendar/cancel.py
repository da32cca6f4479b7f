"""The ``calendar.cancel`` action: delete a booked appointment, once."""

from __future__ import annotations

from typing import Any

from avflow import EffectFailed, StepContext
from avflow_calendar import ical
from avflow_calendar.accounts import open_all
from avflow_calendar.change_params import CancelParams


def cancel(ctx: StepContext, params: CancelParams) -> dict[str, Any]:
    """``calendar.cancel``: the event goes (attendees told where the provider does it)."""
    uid = params.uid
    with open_all(ctx, [params.account]) as (backend,):

        def perform() -> dict[str, Any]:
            with backend.lock():
                event = backend.get(uid)
                if event is None:
                    return {"uid": uid, "status": "not_found"}
                if event.get(ical.BOOKING) is None and not params.any_event:
                    raise EffectFailed(
                        f"event {uid} in {params.account!r} was not booked by avflow "
                        "(any_event: true cancels it anyway)"
                    )
                backend.delete(uid)
                return {**ical.describe(event), "status": "cancelled"}

        def reconcile() -> dict[str, Any] | None:
            return {"uid": uid, "status": "cancelled"} if backend.get(uid) is None else None

        result = ctx.effect(
            f"cancel:{uid}",
            f"cancel event {uid} in {params.account}",
            perform,
            kind="calendar.cancel",
            reconcile=reconcile,
        )
    if result is None:  # a dry run
        return {"uid": uid, "status": "would_cancel"}
    return {"account": params.account, **result}
