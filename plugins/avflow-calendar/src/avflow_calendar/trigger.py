"""The ``calendar.event_changed`` trigger: a run for each new, moved, changed or cancelled event.

The trigger polls the calendar's changes (changes.py) every ``poll_seconds`` and compares each
changed event with what it last saw of it, kept with the sync token in the plugin's data folder
(``event_changed/<client>.<workflow>.<account>.json``): an event it has seen unchanged fires
nothing, so a full resync (a first start, a token the server dropped: CalDAV's
valid-sync-token, Google's 410 Gone) fires only for what really changed. Events already in the
calendar when the trigger first starts do not fire. The state is saved after each firing.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import avflow
from avflow import TriggerContext
from avflow_calendar.change_params import EventChangedParams
from avflow_calendar.changes import Items, open_source


def _state_path(ctx: TriggerContext, account: str) -> Path | None:
    if ctx.data_dir is None:
        return None
    folder = avflow.private_dir(ctx.data_dir / "event_changed")
    return folder / f"{ctx.client.id}.{ctx.workflow}.{account}.json"


def load(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {"token": None, "seen": {}, "started": False}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"token": None, "seen": {}, "started": False}  # unreadable: start afresh
    return state if isinstance(state, dict) and "seen" in state else {"token": None, "seen": {}}


def save(path: Path | None, state: dict[str, Any]) -> None:
    if path is not None:
        avflow.atomic_write(path, json.dumps(state, sort_keys=True).encode(), 0o600)


def _local(value: str, ctx: TriggerContext) -> str:
    if "T" not in value:
        return value
    return datetime.fromisoformat(value).astimezone(ctx.client.tz).isoformat()


def _change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    if new is None:
        return None if old is None else "cancelled"
    if old is None:
        return "new"
    if old.get("fp") == new.get("fp"):
        return None
    if (old["start"], old["end"]) != (new["start"], new["end"]):
        return "moved"
    return "cancelled" if new["status"] == "CANCELLED" else "changed"


def _wanted(
    change: str, old: dict[str, Any] | None, new: dict[str, Any] | None, moved: set[str]
) -> bool:
    """avflow's own holds never fire; its bookings fire when moved or cancelled, except the
    old event of its own reschedule (a new event in the same batch names it)."""
    rec = new or old or {}
    if not rec.get("avflow"):
        return True
    if rec.get("hold") or (old or {}).get("hold"):
        return False
    if change == "cancelled":
        return rec.get("uid") not in moved
    return change == "moved"


def diff(
    ctx: TriggerContext, params: EventChangedParams, state: dict[str, Any], full: bool, items: Items
) -> list[dict[str, Any]]:
    """The payloads to fire, updating ``state['seen']``."""
    seen: dict[str, Any] = state["seen"]
    if full:
        items = {**{k: None for k in seen if k not in items}, **items}
    records = [*items.values(), *seen.values()]  # a reschedule's new event, this poll or before
    moved = {str(r.get("moved_from")) for r in records if r and r.get("moved_from")}
    out = []
    for key, new in items.items():
        old = seen.get(key)
        change = _change(old, new)
        if new is None:
            seen.pop(key, None)
        else:
            seen[key] = new
        if change is None or not (params.include_own or _wanted(change, old, new, moved)):
            continue
        rec = new or old or {}
        payload = {
            "account": params.account,
            "change": change,
            "uid": rec.get("uid", ""),
            "title": rec.get("title", ""),
            "location": rec.get("location", ""),
            "start": _local(rec.get("start", ""), ctx),
            "end": _local(rec.get("end", ""), ctx),
            "booked_by_avflow": bool(rec.get("avflow")),
        }
        if change == "moved" and old is not None:
            payload["previous_start"] = _local(old["start"], ctx)
            payload["previous_end"] = _local(old["end"], ctx)
        out.append(payload)
    return out


def poll_once(
    ctx: TriggerContext, params: EventChangedParams, source: Any, state: dict[str, Any]
) -> list[dict[str, Any]]:
    """One poll: the events fired (none on the very first, which only learns the calendar)."""
    full, items, token = source.poll(state.get("token"))
    fired = diff(ctx, params, state, full, items)
    first = not state.get("started")
    state["token"], state["started"] = token, True
    if first:
        return []
    return fired


def watch(ctx: TriggerContext, params: EventChangedParams) -> None:
    """Poll until the service stops; fire one run per change."""
    path = _state_path(ctx, params.account)
    state = load(path)
    source, backend = open_source(ctx, params.account)
    try:
        while not ctx.stopping.is_set():
            fired = poll_once(ctx, params, source, state)
            for payload in fired:
                ctx.fire(payload)
            save(path, state)
            if fired:
                ctx.log.info("calendar changes fired", account=params.account, events=len(fired))
            ctx.stopping.wait(params.poll_seconds)
    finally:
        with contextlib.suppress(Exception):
            backend.close()
