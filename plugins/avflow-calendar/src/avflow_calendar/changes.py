"""Where a calendar's changes come from, for the ``calendar.event_changed`` trigger.

Each source answers ``poll(token) -> (full, items, token)``: ``items`` maps a key (an event's
address) to its record, or to None for an event deleted; ``full`` says the answer lists every
event (a first sync, or a resync after the server dropped the token), so a key it lacks was
deleted. CalDAV: a sync-collection REPORT (RFC 6578); Google: ``events.list`` with ``syncToken``
(410 Gone: a full listing); a .ics file: re-read when its size, time or inode change.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from avflow import StepFailed, TriggerContext
from avflow_calendar import ical
from avflow_calendar.backends import IcsBackend
from avflow_calendar.remote_settings import CaldavSettings, GoogleCalendarSettings
from avflow_calendar.settings import IcsSettings

Items = dict[str, dict[str, Any] | None]


def _iso(value: Any, tz: tzinfo) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=tz)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return ""


def record(event: Any, tz: tzinfo, extra: str = "") -> dict[str, Any]:
    """What the trigger remembers of an event, and compares."""
    start = event.get("DTSTART")
    end = event.get("DTEND")
    rec = {
        "uid": str(event.get("UID", "")),
        "title": str(event.get("SUMMARY", "")),
        "location": str(event.get("LOCATION", "")),
        "status": str(event.get("STATUS", "CONFIRMED")).upper(),
        "start": _iso(start.dt, tz) if start is not None else "",
        "end": _iso(end.dt, tz) if end is not None else "",
        "avflow": event.get(ical.BOOKING) is not None,
        "hold": ical.hold_until(event) is not None,
        "moved_from": str(event.get(ical.MOVED_FROM, "") or ""),
    }
    blob = json.dumps(rec, sort_keys=True) + extra
    rec["fp"] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return rec


def _master(cal: Any) -> Any | None:
    events = list(cal.walk("VEVENT"))
    for ev in events:
        if ev.get("RECURRENCE-ID") is None:
            return ev
    return events[0] if events else None


class IcsSource:
    def __init__(self, backend: IcsBackend, tz: tzinfo) -> None:
        self.backend, self.tz = backend, tz

    def poll(self, token: str | None) -> tuple[bool, Items, str | None]:
        path = self.backend.path
        try:
            st = path.stat()
        except FileNotFoundError:
            return True, {}, "missing"
        stamp = f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
        if stamp == token:
            return False, {}, token
        cal = ical.parse(self.backend.read_raw(), str(path))
        items: Items = {}
        for ev in cal.walk("VEVENT"):
            rid = ev.get("RECURRENCE-ID")
            key = str(ev.get("UID", "")) + (f"#{_iso(rid.dt, self.tz)}" if rid else "")
            items[key] = record(ev, self.tz, str(ev.get("RRULE", "")) + str(ev.get("EXDATE", "")))
        return True, items, stamp


class CaldavSource:
    def __init__(self, backend: Any, tz: tzinfo) -> None:
        self.backend, self.tz = backend, tz

    def _sync(self, token: str | None) -> Any:
        return self.backend.calendar.get_objects_by_sync_token(
            token, load_objects=True, disable_fallback=True
        )

    def poll(self, token: str | None) -> tuple[bool, Items, str | None]:
        full = token is None
        try:
            try:
                got = self._sync(token)
            except Exception:
                if token is None:
                    raise
                got, full = self._sync(None), True  # the server dropped the token: resync
        except Exception as exc:
            raise self.backend._fail("reading changes", exc) from None
        items: Items = {str(url): None for url in got.deleted_urls}
        for obj in got:
            key = str(obj.url.canonical())
            if key in items or not obj.data:
                items[key] = None
                continue
            cal = ical.parse(obj.data.encode(), self.backend.url)
            master = _master(cal)
            if master is not None:
                digest = hashlib.sha256(obj.data.encode()).hexdigest()
                items[key] = record(master, self.tz, digest)
        return full, items, str(got.sync_token) if got.sync_token else None


class GoogleSource:
    def __init__(self, backend: Any, tz: tzinfo) -> None:
        self.backend, self.tz = backend, tz

    def _list(self, token: str | None) -> tuple[list[dict[str, Any]], str | None] | None:
        items: list[dict[str, Any]] = []
        page: str | None = None
        seen: set[str] = set()
        while True:
            kw: dict[str, Any] = {
                "calendarId": self.backend.s.calendar_id,
                "maxResults": 2500,
                "singleEvents": True,
                "showDeleted": token is not None,
            }
            if token:
                kw["syncToken"] = token
            if page:
                kw["pageToken"] = page
            request = functools.partial(self.backend.events.list, **kw)
            got = self.backend._call("read changes", request, also_ok=(410,))
            if got == 410:
                return None  # the sync token is gone: a full listing is needed
            items += got.get("items", [])
            page = self.backend.next_page(got, seen)
            if not page:
                return items, got.get("nextSyncToken")

    def poll(self, token: str | None) -> tuple[bool, Items, str | None]:
        from avflow_calendar.gconv import as_vevent

        full = token is None
        got = self._list(token)
        if got is None:
            got, full = self._list(None), True
            if got is None:
                raise StepFailed(f"calendar {self.backend.name!r}: Google refused a full listing")
        events, new_token = got
        items: Items = {}
        for item in events:
            key = str(item.get("id", ""))
            if item.get("status") == "cancelled" or "start" not in item:
                items[key] = None
                continue
            uid = str(item.get("iCalUID") or key)
            items[key] = record(as_vevent(item, uid), self.tz)
        return full, items, new_token


def open_source(ctx: TriggerContext, name: str) -> tuple[Any, Any]:
    """(source, backend to close) for the client's calendar account ``name``."""
    import contextlib

    account = ctx.account(name)
    settings = account.settings
    tz = ctx.client.tz
    if isinstance(settings, IcsSettings):
        backend: Any = IcsBackend(name, settings, ctx.client)
        return IcsSource(backend, tz), backend
    if isinstance(settings, CaldavSettings):
        from avflow_calendar.caldavs import CaldavBackend

        backend = CaldavBackend(name, settings, contextlib.nullcontext)
        return CaldavSource(backend, tz), backend
    if isinstance(settings, GoogleCalendarSettings):
        from avflow_calendar.gcal import GoogleBackend

        backend = GoogleBackend(name, settings, ctx.client.id, contextlib.nullcontext)
        return GoogleSource(backend, tz), backend
    raise StepFailed(f"account {name!r} is a {account.type} account, not a calendar")
