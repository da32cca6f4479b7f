"""iCalendar data: busy time from a calendar (recurring series expanded), and booked events.

Single events are read directly; only series (RRULE, RDATE, overridden instances) go through
``recurring-ical-events``, which handles EXDATE, RECURRENCE-ID overrides and time zones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar

from avflow_calendar.slots import Busy

BOOKING = "X-AVFLOW-BOOKING"  # the booking token: which run (or idempotency key) made the event
PRODID = "-//avflow//avflow-calendar//EN"
HOLD_UNTIL = "X-AVFLOW-HOLD-UNTIL"  # a tentative hold: released at this UTC instant
HOLD_GROUP = "X-AVFLOW-HOLD-GROUP"  # the UIDs of the holds proposed together
MOVED_FROM = "X-AVFLOW-MOVED-FROM"  # a rescheduled booking: the UID it replaced


def _instant(value: Any, tz: tzinfo) -> datetime:
    """A DTSTART/DTEND value as UTC: dates are local midnights, floating times are local."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    raise ValueError(f"not a date or time: {value!r}")


def span(event: Any, tz: tzinfo) -> Busy | None:
    """The busy time of one event (an occurrence), or None when it does not block time."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    raw_start = start_prop.dt
    start = _instant(raw_start, tz)
    if event.get("DTEND") is not None:
        end = _instant(event["DTEND"].dt, tz)
    elif event.get("DURATION") is not None:
        dur = event["DURATION"].dt
        end = start + dur if isinstance(raw_start, datetime) else _instant(raw_start + dur, tz)
    elif isinstance(raw_start, datetime):
        return None  # no end, no duration: an instant (RFC 5545), it blocks nothing
    else:
        end = _instant(raw_start + timedelta(days=1), tz)  # an all-day event with no end
    return Busy(
        start,
        end,
        booking=event.get(BOOKING) is not None,
        uid=str(event.get("UID", "")),
        title=str(event.get("SUMMARY", "")),
        location=str(event.get("LOCATION", "")),
        all_day=not isinstance(raw_start, datetime),
        hold_until=hold_until(event),
    )


def hold_until(event: Any) -> datetime | None:
    """When a hold is released, or None for an event that is not a hold."""
    value = str(event.get(HOLD_UNTIL, "") or "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def utc_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _recurring(event: Any) -> bool:
    return any(event.get(k) is not None for k in ("RRULE", "RDATE", "RECURRENCE-ID"))


class CalendarDataError(ValueError):
    """An event a calendar holds cannot be read (a broken property, a rule that never ends
    fast enough): the message names it by UID and title."""


def _named(event: Any) -> str:
    uid = str(event.get("UID", "") or "?")
    title = str(event.get("SUMMARY", "") or "")
    return f"event {uid!r}" + (f" ({title[:60]!r})" if title else "")


def _span_of(event: Any, tz: tzinfo) -> Busy | None:
    try:
        return span(event, tz)
    except Exception as exc:  # icalendar's broken properties, dates out of range
        raise CalendarDataError(f"{_named(event)}: {_why(exc)}") from None


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def busy_of(calendars: Iterable[Any], start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
    """Busy spans of parsed calendars that meet [start, end). An event that cannot be read, or
    a series that repeats too often to expand (`avflow_calendar.repeats`), raises
    `CalendarDataError` naming it."""
    import recurring_ical_events

    from avflow_calendar.repeats import too_many

    out: list[Busy] = []
    for cal in calendars:
        zones = [c for c in cal.subcomponents if c.name == "VTIMEZONE"]
        series: dict[str, list[Any]] = {}
        for comp in cal.subcomponents:
            if comp.name != "VEVENT":
                continue
            if _recurring(comp):
                series.setdefault(str(comp.get("UID", "")), []).append(comp)
                continue
            b = _span_of(comp, tz)
            if b is not None and b.start < end and b.end > start:
                out.append(b)
        for events in series.values():
            one = icalendar.Calendar()
            for comp in [*zones, *events]:
                one.add_component(comp)
            try:
                whys = [why for why in (too_many(comp, end) for comp in events) if why]
                found = [] if whys else recurring_ical_events.of(one).between(start, end)
            except Exception as exc:  # a rule dateutil cannot read, a broken date
                raise CalendarDataError(f"{_named(events[0])}: {_why(exc)}") from None
            if whys:
                raise CalendarDataError(f"{_named(events[0])}: {whys[0]}")
            for occurrence in found:
                b = _span_of(occurrence, tz)
                if b is not None and b.start < end and b.end > start:
                    out.append(b)
    return out


_EVENT = re.compile(rb"^BEGIN:VEVENT\r?\n.*?^END:VEVENT\r?\n?", re.M | re.S)
_SERIES = re.compile(rb"^(?:RRULE|RDATE|RECURRENCE-ID)[;:]", re.M)
_DATE = re.compile(rb"^(DTSTART|DTEND|DURATION)[;:](?:[^\r\n]*:)?(\d{8}|[-+P])", re.M)
_FOLD = re.compile(rb"\r?\n[ \t]")
SLACK = timedelta(days=2)  # more than any UTC offset: a date outside the window by more is out


def window(data: bytes, start: datetime, end: datetime) -> bytes:
    """``data`` without the single events that certainly end before ``start`` or begin after
    ``end``, judged by the dates of their DTSTART/DTEND lines alone (no parsing): a calendar
    holding years of history parses in a fraction of the time. Series, events with a
    DURATION and anything unusual are kept, for the parser to judge."""
    data = _FOLD.sub(b"", data)
    first = (start - SLACK).strftime("%Y%m%d").encode()
    last = (end + SLACK).strftime("%Y%m%d").encode()
    keep: list[bytes] = []
    pos = 0
    for m in _EVENT.finditer(data):
        block = m.group(0)
        if _SERIES.search(block) is None:
            dates = {k: v for k, v in _DATE.findall(block)}
            begin, finish = dates.get(b"DTSTART"), dates.get(b"DTEND", dates.get(b"DTSTART"))
            if (
                b"DURATION" not in dates
                and begin is not None
                and finish is not None
                and begin.isdigit()
                and finish.isdigit()
                and (finish < first or begin > last)
            ):
                keep.append(data[pos : m.start()])
                pos = m.end()
    keep.append(data[pos:])
    return b"".join(keep)


def parse(data: bytes, where: str) -> Any:
    """A calendar from iCalendar bytes; a file that is not one is a clear error."""
    try:
        return icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ValueError(f"{where}: not an iCalendar file ({exc})") from None


def slot_uid(client: str, account: str, start: datetime, end: datetime) -> str:
    """The booked event's UID: the same slot in the same calendar always has the same one, so a
    second booking of it is refused by the calendar itself (CalDAV If-None-Match)."""
    raw = f"{client}\x00{account}\x00{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    raw += f"\x00{end.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return "avflow-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def token(client: str, owner: str) -> str:
    """The booking token stored in the event: which run (or idempotency key) booked it."""
    return hashlib.sha256(f"{client}\x00{owner}".encode()).hexdigest()[:32]


def make_event(
    uid: str,
    owner_token: str,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    title: str,
    description: str = "",
    location: str = "",
    url: str = "",
    organizer: str = "",
    attendees: Sequence[str] = (),
    held_until: datetime | None = None,
    group: Sequence[str] = (),
) -> icalendar.Event:
    """The VEVENT of a booking (times in UTC; attendees asked to reply), or of a tentative hold
    released at ``held_until`` (``group``: the UIDs of the holds proposed with it)."""
    ev = icalendar.Event()
    ev.add("UID", uid)
    ev.add("DTSTAMP", now.astimezone(UTC))
    ev.add("CREATED", now.astimezone(UTC))
    ev.add("DTSTART", start.astimezone(UTC))
    ev.add("DTEND", end.astimezone(UTC))
    ev.add("SUMMARY", title)
    ev.add("STATUS", "CONFIRMED" if held_until is None else "TENTATIVE")
    ev.add("TRANSP", "OPAQUE")
    if held_until is not None:
        ev.add(HOLD_UNTIL, utc_text(held_until))
        ev.add(HOLD_GROUP, " ".join(group))
    if description:
        ev.add("DESCRIPTION", description)
    if location:
        ev.add("LOCATION", location)
    if url:
        ev.add("URL", url)
    if organizer:
        ev.add("ORGANIZER", f"mailto:{organizer}")
    for who in attendees:
        att = icalendar.vCalAddress(f"mailto:{who}")
        att.params["ROLE"] = icalendar.vText("REQ-PARTICIPANT")
        att.params["PARTSTAT"] = icalendar.vText("NEEDS-ACTION")
        att.params["RSVP"] = icalendar.vText("TRUE")
        ev.add("ATTENDEE", att, encode=False)
    ev.add(BOOKING, owner_token)
    return ev


def wrap(event: icalendar.Event) -> bytes:
    """A one-event calendar object (a CalDAV resource)."""
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add_component(event)
    return bytes(cal.to_ical())


def describe(event: Any) -> dict[str, Any]:
    """What a step's outputs say about a booked event."""
    return {
        "uid": str(event.get("UID", "")),
        "start": event["DTSTART"].dt.astimezone(UTC).isoformat(),
        "end": event["DTEND"].dt.astimezone(UTC).isoformat(),
        "title": str(event.get("SUMMARY", "")),
        "status": "held" if hold_until(event) is not None else "booked",
    }


def group_of(event: Any) -> list[str]:
    """The UIDs of the holds proposed together with this one."""
    return str(event.get(HOLD_GROUP, "") or "").replace(",", " ").split()


def attendees_of(event: Any) -> list[str]:
    found = event.get("ATTENDEE")
    items = found if isinstance(found, list) else [found] if found else []
    return [str(a).removeprefix("mailto:").removeprefix("MAILTO:") for a in items]


_NOT_COPIED = {"BEGIN", "END", "UID", "DTSTART", "DTEND", "DURATION", "DTSTAMP", MOVED_FROM}


def copy_event(
    event: Any, uid: str, start: datetime, end: datetime, now: datetime
) -> icalendar.Event:
    """``event`` moved to [start, end) under ``uid``: everything else kept."""
    ev = icalendar.Event()
    for key, value in event.property_items(recursive=False):
        if key not in _NOT_COPIED:
            ev.add(key, value, encode=False)
    ev.add("UID", uid)
    ev.add("DTSTAMP", now.astimezone(UTC))
    ev.add("DTSTART", start.astimezone(UTC))
    ev.add("DTEND", end.astimezone(UTC))
    ev.add(MOVED_FROM, str(event.get("UID", "")))
    return ev
