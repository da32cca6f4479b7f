"""Google Calendar v3 events <-> the VEVENTs and busy spans the actions work with.

avflow's own marks live in the event's private extended properties: the booking token, a
hold's deadline and group, and the UID a rescheduled booking replaced.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

import icalendar

from avflow_calendar import ical
from avflow_calendar.slots import Busy

TOKEN = "avflowBooking"  # the booking token, in the event's private extended properties
HOLD = "avflowHoldUntil"  # a hold's deadline (ical.utc_text); "" once confirmed
GROUP = "avflowHoldGroup"
MOVED = "avflowMovedFrom"


def event_id(uid: str) -> str:
    """Google's event ids are base32hex (a-v, 0-9): the UID's hex digest is one."""
    return uid.removeprefix("avflow-")


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(value: dict[str, Any], tz: tzinfo) -> datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC)
    day = date.fromisoformat(value["date"])
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)


def private(item: dict[str, Any]) -> dict[str, str]:
    found = item.get("extendedProperties", {}).get("private", {})
    return found if isinstance(found, dict) else {}


def span(item: dict[str, Any], tz: tzinfo) -> Busy | None:
    if item.get("status") == "cancelled" or item.get("transparency") == "transparent":
        return None
    try:
        start, end = when(item["start"], tz), when(item["end"], tz)
    except (KeyError, ValueError):
        return None
    props = private(item)
    uid = item.get("iCalUID") or item.get("id", "")
    return Busy(
        start,
        end,
        booking=TOKEN in props,
        uid=str(uid),
        title=str(item.get("summary", "")),
        location=str(item.get("location", "")),
        all_day="date" in item["start"],
        hold_until=ical.hold_until({ical.HOLD_UNTIL: props.get(HOLD, "")}),
    )


def as_vevent(item: dict[str, Any], uid: str) -> icalendar.Event:
    """A Google event as a VEVENT: what the actions compare, confirm and copy."""
    ev = icalendar.Event()
    ev.add("UID", uid)
    ev.add("DTSTART", when(item["start"], UTC))
    ev.add("DTEND", when(item["end"], UTC))
    ev.add("SUMMARY", item.get("summary", ""))
    ev.add("STATUS", str(item.get("status", "confirmed")).upper())
    for key, prop in (("description", "DESCRIPTION"), ("location", "LOCATION")):
        if item.get(key):
            ev.add(prop, item[key])
    if item.get("source", {}).get("url"):
        ev.add("URL", item["source"]["url"])
    for who in item.get("attendees", []):
        if who.get("email"):
            ev.add("ATTENDEE", f"mailto:{who['email']}")
    props = private(item)
    for key, prop in ((TOKEN, ical.BOOKING), (HOLD, ical.HOLD_UNTIL), (GROUP, ical.HOLD_GROUP)):
        if props.get(key):
            ev.add(prop, props[key])
    if props.get(MOVED):
        ev.add(ical.MOVED_FROM, props[MOVED])
    return ev


def body(uid: str, event: Any) -> dict[str, Any]:
    """The events.insert (or restoring patch) body of a VEVENT made by avflow."""
    props = {TOKEN: str(event[ical.BOOKING])}
    for key, prop in ((HOLD, ical.HOLD_UNTIL), (GROUP, ical.HOLD_GROUP), (MOVED, ical.MOVED_FROM)):
        props[key] = str(event.get(prop, "") or "")
    out: dict[str, Any] = {
        "id": event_id(uid),
        "iCalUID": uid,
        "summary": str(event.get("SUMMARY", "")),
        "status": "tentative" if props[HOLD] else "confirmed",
        "start": {"dateTime": rfc3339(event["DTSTART"].dt)},
        "end": {"dateTime": rfc3339(event["DTEND"].dt)},
        "extendedProperties": {"private": props},
    }
    for key, prop in (("description", "DESCRIPTION"), ("location", "LOCATION")):
        if event.get(prop):
            out[key] = str(event[prop])
    if event.get("URL"):
        out["source"] = {"title": "Video call", "url": str(event["URL"])}
    attendees = ical.attendees_of(event)
    if attendees:
        out["attendees"] = [{"email": a} for a in attendees]
    return out
