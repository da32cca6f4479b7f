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
from datetime import datetime, tzinfo
from typing import Any

import icalendar

from avflow import StepFailed
from avflow_calendar.backends import EventExists
from avflow_calendar.gconv import as_vevent, body, event_id, rfc3339, span, when
from avflow_calendar.remote_settings import GoogleCalendarSettings
from avflow_calendar.settings import SCOPES
from avflow_calendar.slots import Busy

RETRY = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 400  # of 2,500 events: a million events in one listing


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
        self.etags: dict[str, str] = {}

    # -- requests ---------------------------------------------------------------------------------
    def _call(
        self,
        what: str,
        request: Callable[[], Any],
        conflict_ok: bool = False,
        also_ok: tuple[int, ...] = (),
        empty_ok: bool = False,
    ) -> Any:
        from google.auth.exceptions import RefreshError
        from googleapiclient.errors import HttpError

        for attempt in range(self.s.retries + 1):
            try:
                got = request().execute()
                if not isinstance(got, dict) and not (empty_ok and got in ("", None)):
                    # not Google's JSON (a proxy's page, an answer cut short): whatever was
                    # asked may or may not have been done; a booking is asked again by UID
                    raise StepFailed(
                        f"calendar {self.name!r}: {what}: the answer was not Google's JSON "
                        f"({str(got)[:60]!r}); outcome unknown"
                    )
                return got
            except HttpError as exc:
                status = int(exc.resp.status)
                if (conflict_ok and status in (404, 409, 410)) or status in also_ok:
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

    def next_page(self, got: dict[str, Any], seen: set[str]) -> str | None:
        """The listing's next page token; one given before, or too many pages, stops it (a
        server repeating a token would keep a step, or the trigger, listing for ever)."""
        page = got.get("nextPageToken")
        if page is not None and (page in seen or len(seen) >= MAX_PAGES):
            raise StepFailed(
                f"calendar {self.name!r}: Google's listing did not end (page token "
                f"{str(page)[:40]!r} {'repeated' if page in seen else f'after {MAX_PAGES} pages'})"
            )
        if page is not None:
            seen.add(page)
        return page

    # -- the backend ------------------------------------------------------------------------------
    def busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        out: list[Busy] = []
        page: str | None = None
        seen: set[str] = set()
        while True:
            kw: dict[str, Any] = {
                "calendarId": self.s.calendar_id,
                "timeMin": rfc3339(start),
                "timeMax": rfc3339(end),
                "singleEvents": True,
                "maxResults": 2500,
            }
            if page:
                kw["pageToken"] = page
            got = self._call("read busy time", functools.partial(self.events.list, **kw))
            for item in got.get("items", []):
                b = span(item, tz)
                if b is not None:
                    out.append(b)
            page = self.next_page(got, seen)
            if not page:
                return out

    def free_busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        """Busy time only (another calendar's, for a search or a re-check): one freeBusy query."""
        query = {
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
            "items": [{"id": self.s.calendar_id}],
        }
        got = self._call(
            "read busy time", functools.partial(self.service.freebusy().query, body=query)
        )
        found = got.get("calendars", {}).get(self.s.calendar_id, {})
        if found.get("errors"):
            reason = found["errors"][0].get("reason", "error")
            raise StepFailed(
                f"calendar {self.name!r}: Google could not read its busy time ({reason})"
            )
        out = []
        for b in found.get("busy", []):
            out.append(Busy(when({"dateTime": b["start"]}, tz), when({"dateTime": b["end"]}, tz)))
        return out

    def _item(self, uid: str) -> dict[str, Any] | None:
        """The event as Google has it (a deleted one too: Google keeps it, cancelled)."""
        got = self._call(
            "read an event",
            lambda: self.events.get(calendarId=self.s.calendar_id, eventId=event_id(uid)),
            conflict_ok=True,
        )
        return None if isinstance(got, int) else dict(got)

    def get(self, uid: str) -> Any | None:
        item = self._item(uid)
        if item is None or item.get("status") == "cancelled":
            return None
        self.etags[uid] = str(item.get("etag", ""))
        return as_vevent(item, uid)

    def create(self, uid: str, event: icalendar.Event) -> None:
        new = body(uid, event)
        got = self._call(
            "create the event",
            lambda: self.events.insert(
                calendarId=self.s.calendar_id, body=new, sendUpdates=self.s.send_updates
            ),
            conflict_ok=True,
        )
        if got == 409:  # the id exists: this booking's lost answer, another's, or deleted
            item = self._item(uid)
            if item is not None and item.get("status") == "cancelled":
                return self._restore(uid, item, new)
            existing = self.get(uid)
            if existing is None:
                raise StepFailed(f"calendar {self.name!r}: event {event_id(uid)} is unreadable")
            raise EventExists(existing)
        if isinstance(got, int):
            raise StepFailed(f"calendar {self.name!r}: creating the event answered HTTP {got}")

    def _restore(self, uid: str, item: dict[str, Any], new: dict[str, Any]) -> None:
        """Google keeps a deleted event under its id: booking its slot again brings it back
        (a patch of the deleted version only, If-Match its ETag: of two, one wins)."""
        self.etags[uid] = str(item.get("etag", ""))
        if self._patch(uid, new, "book the slot again") == 412:
            existing = self.get(uid)
            if existing is None:
                raise StepFailed(f"calendar {self.name!r}: event {event_id(uid)} is unreadable")
            raise EventExists(existing)

    def _patch(self, uid: str, changes: dict[str, Any], what: str) -> Any:
        etag = self.etags.pop(uid, "")

        def request() -> Any:
            req = self.events.patch(
                calendarId=self.s.calendar_id,
                eventId=event_id(uid),
                body=changes,
                sendUpdates=self.s.send_updates,
            )
            if etag:
                req.headers["If-Match"] = etag
            return req

        got = self._call(what, request, conflict_ok=True, also_ok=(412,))
        if isinstance(got, int) and got != 412:
            raise StepFailed(f"calendar {self.name!r}: event {event_id(uid)} is gone (HTTP {got})")
        return got

    def update(self, uid: str, event: icalendar.Event) -> None:
        changes = body(uid, event)
        changes.pop("id")
        if self._patch(uid, changes, "change the event") == 412:
            raise StepFailed(
                f"calendar {self.name!r}: event {uid} was changed by someone else meanwhile"
            )

    def delete(self, uid: str) -> bool:
        got = self._call(
            "delete the event",
            lambda: self.events.delete(
                calendarId=self.s.calendar_id,
                eventId=event_id(uid),
                sendUpdates=self.s.send_updates,
            ),
            conflict_ok=True,
            empty_ok=True,  # 204 No Content
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
    plain = httplib2.Http(timeout=s.timeout)
    plain.follow_redirects = False  # Google's API does not redirect: a 3xx is an error answer
    http = google_auth_httplib2.AuthorizedHttp(creds, http=plain)
    options = {"api_endpoint": s.api_endpoint} if s.api_endpoint else None
    return build(
        "calendar",
        "v3",
        http=http,
        cache_discovery=False,
        static_discovery=True,
        client_options=options,
    )


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 30))


def _retry_after(resp: Any) -> float | None:
    value = resp.get("retry-after") if hasattr(resp, "get") else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _reason(exc: Any) -> str:
    """`HttpError.reason`: public, worked out from the answer when the error is made."""
    return str(getattr(exc, "reason", "") or "").strip()[:200]
