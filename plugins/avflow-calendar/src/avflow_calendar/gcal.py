"""``type: google_calendar``: Google Calendar v3 through google-api-python-client.

Busy time is one ``events.list`` per calendar (Google expands series: ``singleEvents``). A
booking is one ``events.insert`` with the slot's deterministic event id: Google itself refuses a
second event with that id (409), so a retry after a lost answer, or a second machine, finds the
event instead of making another. 429, rate-limit 403s and 5xx are retried with backoff
(``Retry-After`` honoured); a refused refresh token (``invalid_grant``) fails the step at once
with the command that re-connects it.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import icalendar

from avflow import StepFailed
from avflow_calendar import ical
from avflow_calendar.backends import EventExists
from avflow_calendar.settings import GoogleCalendarSettings
from avflow_calendar.slots import Busy

SCOPES = ["https://www.googleapis.com/auth/calendar"]
RETRY = frozenset({429, 500, 502, 503, 504})
TOKEN = "avflowBooking"  # the booking token, in the event's private extended properties


def event_id(uid: str) -> str:
    """Google's event ids are base32hex (a-v, 0-9): the UID's hex digest is one."""
    return uid.removeprefix("avflow-")


class GoogleBackend:
    """One Google calendar."""

    def __init__(
        self,
        name: str,
        s: GoogleCalendarSettings,
        client: str,
        lock: Callable[[], contextlib.AbstractContextManager[Any]],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name, self.s, self.client, self._lock, self.sleep = name, s, client, lock, sleep
        self.service = _service(s)
        self.events = self.service.events()

    # -- requests ---------------------------------------------------------------------------------
    def _call(self, what: str, request: Callable[[], Any], conflict_ok: bool = False) -> Any:
        from google.auth.exceptions import RefreshError
        from googleapiclient.errors import HttpError

        for attempt in range(self.s.retries + 1):
            try:
                return request().execute()
            except HttpError as exc:
                status = int(exc.resp.status)
                if conflict_ok and status in (404, 409, 410):
                    return status
                limited = status == 403 and "ratelimit" in _reason(exc).lower().replace(" ", "")
                if status in (401, 403) and not limited:
                    raise StepFailed(
                        f"calendar {self.name!r}: Google refused access while trying to {what} "
                        f"(HTTP {status} {_reason(exc)})"
                    ) from None
                if (status not in RETRY and not limited) or attempt == self.s.retries:
                    raise StepFailed(
                        f"calendar {self.name!r}: {what} failed: HTTP {status} {_reason(exc)}"
                    ) from None
                delay = _retry_after(exc.resp)
                if delay is not None and delay > self.s.max_retry_after:
                    raise StepFailed(
                        f"calendar {self.name!r}: {what}: Google asked to wait {delay:g}s "
                        "(more than max_retry_after)"
                    ) from None
                self.sleep(delay if delay is not None else _backoff(attempt))
            except RefreshError as exc:
                grant = "invalid_grant" in str(exc)
                raise StepFailed(
                    f"calendar {self.name!r}: the Google sign-in "
                    + ("was revoked or has expired (invalid_grant)" if grant else "failed")
                    + f"; re-connect it with: avflow auth google {self.client} SECRET_NAME "
                    "--client-id ID (SECRET_NAME: the secret its refresh_token names)"
                ) from None
            except (TimeoutError, ConnectionError, OSError) as exc:
                if attempt == self.s.retries:
                    raise StepFailed(
                        f"calendar {self.name!r}: {what}: no answer after {attempt + 1} "
                        f"attempts ({type(exc).__name__})"
                    ) from None
                self.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    # -- the backend ------------------------------------------------------------------------------
    def busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        out: list[Busy] = []
        page: str | None = None
        while True:
            kw: dict[str, Any] = {
                "calendarId": self.s.calendar_id,
                "timeMin": _rfc3339(start),
                "timeMax": _rfc3339(end),
                "singleEvents": True,
                "maxResults": 2500,
            }
            if page:
                kw["pageToken"] = page
            got = self._call("read busy time", functools.partial(self.events.list, **kw))
            for item in got.get("items", []):
                b = _span(item, tz)
                if b is not None:
                    out.append(b)
            page = got.get("nextPageToken")
            if not page:
                return out

    def get(self, uid: str) -> Any | None:
        got = self._call(
            "read an event",
            lambda: self.events.get(calendarId=self.s.calendar_id, eventId=event_id(uid)),
            conflict_ok=True,
        )
        if isinstance(got, int) or got.get("status") == "cancelled":
            return None
        return _as_vevent(got, uid)

    def create(self, uid: str, event: icalendar.Event) -> None:
        body = _body(uid, event)
        got = self._call(
            "create the event",
            lambda: self.events.insert(
                calendarId=self.s.calendar_id, body=body, sendUpdates=self.s.send_updates
            ),
            conflict_ok=True,
        )
        if got == 409:  # the id exists: this booking's lost answer, or another's
            existing = self.get(uid)
            if existing is None:
                raise StepFailed(
                    f"calendar {self.name!r}: event {event_id(uid)} was booked and deleted; "
                    "this slot cannot be booked again under the same id"
                )
            raise EventExists(existing)
        if isinstance(got, int):
            raise StepFailed(f"calendar {self.name!r}: creating the event answered HTTP {got}")

    def delete(self, uid: str) -> bool:
        got = self._call(
            "delete the event",
            lambda: self.events.delete(
                calendarId=self.s.calendar_id,
                eventId=event_id(uid),
                sendUpdates=self.s.send_updates,
            ),
            conflict_ok=True,
        )
        return not isinstance(got, int)  # 404/410: not there, or deleted already

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        return self._lock()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.service.close()


def _service(s: GoogleCalendarSettings) -> Any:
    import google_auth_httplib2
    import httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    creds = Credentials(
        token=s.token,
        refresh_token=s.refresh_token,
        client_id=s.client_id,
        client_secret=s.client_secret,
        token_uri=s.token_uri or "https://oauth2.googleapis.com/token",
        scopes=SCOPES,
    )
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=s.timeout))
    options = {"api_endpoint": s.api_endpoint} if s.api_endpoint else None
    return build(
        "calendar",
        "v3",
        http=http,
        cache_discovery=False,
        static_discovery=True,
        client_options=options,
    )


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: dict[str, Any], tz: tzinfo) -> datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC)
    day = date.fromisoformat(value["date"])
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)


def _span(item: dict[str, Any], tz: tzinfo) -> Busy | None:
    if item.get("status") == "cancelled" or item.get("transparency") == "transparent":
        return None
    try:
        start, end = _when(item["start"], tz), _when(item["end"], tz)
    except (KeyError, ValueError):
        return None
    private = item.get("extendedProperties", {}).get("private", {})
    uid = item.get("iCalUID") or item.get("id", "")
    return Busy(
        start,
        end,
        booking=TOKEN in private,
        uid=str(uid),
        title=str(item.get("summary", "")),
        location=str(item.get("location", "")),
        all_day="date" in item["start"],
    )


def _as_vevent(item: dict[str, Any], uid: str) -> icalendar.Event:
    """A Google event as the VEVENT the actions compare (UID, times, title, booking token)."""
    ev = icalendar.Event()
    ev.add("UID", uid)
    ev.add("DTSTART", _when(item["start"], UTC))
    ev.add("DTEND", _when(item["end"], UTC))
    ev.add("SUMMARY", item.get("summary", ""))
    token = item.get("extendedProperties", {}).get("private", {}).get(TOKEN)
    if token:
        ev.add(ical.BOOKING, token)
    return ev


def _body(uid: str, event: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id(uid),
        "iCalUID": uid,
        "summary": str(event.get("SUMMARY", "")),
        "start": {"dateTime": _rfc3339(event["DTSTART"].dt)},
        "end": {"dateTime": _rfc3339(event["DTEND"].dt)},
        "extendedProperties": {"private": {TOKEN: str(event[ical.BOOKING])}},
    }
    for key, prop in (("description", "DESCRIPTION"), ("location", "LOCATION")):
        if event.get(prop):
            body[key] = str(event[prop])
    if event.get("URL"):
        body["source"] = {"title": "Video call", "url": str(event["URL"])}
    attendees = event.get("ATTENDEE")
    if attendees:
        items = attendees if isinstance(attendees, list) else [attendees]
        body["attendees"] = [{"email": str(a).removeprefix("mailto:")} for a in items]
    return body


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 30))


def _retry_after(resp: Any) -> float | None:
    value = resp.get("retry-after") if hasattr(resp, "get") else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _reason(exc: Any) -> str:
    try:
        return str(exc._get_reason()).strip()[:200]
    except Exception:
        return ""
