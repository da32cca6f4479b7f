"""``type: caldav``: a calendar collection on a CalDAV server, through the ``caldav`` library.

A booking is one PUT of ``<uid>.ics`` with ``If-None-Match: *``: the server itself refuses a
second event for the same slot (412), whichever machine sends it. Busy time is one
calendar-query REPORT over the window; series are expanded here, as for a local file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import icalendar

from avflow import StepFailed
from avflow_calendar import ical
from avflow_calendar.backends import EventExists
from avflow_calendar.remote_settings import CaldavSettings
from avflow_calendar.slots import Busy


class CaldavBackend:
    """One CalDAV calendar collection."""

    def __init__(
        self,
        name: str,
        settings: CaldavSettings,
        lock: Callable[[], contextlib.AbstractContextManager[Any]],
    ) -> None:
        from caldav.davclient import DAVClient

        self.name = name
        self.url = settings.url
        self._lock = lock
        self.client = DAVClient(
            url=settings.url,
            enable_rfc6764=False,  # the URL is the calendar's: no DNS discovery
            username=settings.username,
            password=settings.password,
            timeout=int(settings.timeout),
            ssl_verify_cert=settings.verify_tls,
        )
        # a redirect to another host is refused, not followed: that host's answer would be
        # taken as the calendar's (an empty listing: every slot free)
        self.client.session.hooks.setdefault("response", []).append(_same_origin)
        self.calendar = self.client.calendar(url=settings.url)
        self.etags: dict[str, str] = {}  # the ETag of each event read: updates are conditional

    def _fail(self, what: str, exc: Exception) -> StepFailed:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StepFailed(f"calendar {self.name!r} ({self.url}): {what} failed: {detail[:300]}")

    def busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        try:
            found = self.calendar.search(start=start, end=end, event=True, expand=False)
            cals = [ical.parse(obj.data.encode(), self.url) for obj in found]
        except ValueError as exc:
            raise StepFailed(f"calendar {self.name!r}: {exc}") from None
        except Exception as exc:
            raise self._fail("reading busy time", exc) from None
        try:
            return ical.busy_of(cals, start, end, tz)
        except ical.CalendarDataError as exc:
            raise StepFailed(f"calendar {self.name!r} ({self.url}): {exc}") from None

    def free_busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        return self.busy(start, end, tz)

    def href(self, uid: str) -> str:
        return self.url + quote(uid, safe="") + ".ics"

    def get(self, uid: str) -> Any | None:
        try:
            response = self.client.request(self.href(uid), "GET")
        except Exception as exc:
            raise self._fail("reading an event", exc) from None
        if response.status == 404:
            return None
        if response.status >= 300:
            raise StepFailed(
                f"calendar {self.name!r}: reading event {uid} answered HTTP {response.status}"
            )
        etag = response.headers.get("ETag") if response.headers else None
        if etag:
            self.etags[uid] = etag
        try:
            cal = icalendar.Calendar.from_ical(response.raw)
        except ValueError as exc:
            raise StepFailed(
                f"calendar {self.name!r}: event {uid} is not iCalendar data ({exc})"[:400]
            ) from None
        for comp in cal.walk("VEVENT"):
            if comp.get("RECURRENCE-ID") is None:
                return comp
        return None

    def create(self, uid: str, event: icalendar.Event) -> None:
        headers = {"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"}
        try:
            response = self.client.put(self.href(uid), ical.wrap(event).decode(), headers)
        except Exception as exc:
            raise self._fail("creating the event", exc) from None
        if response.status == 412:
            existing = self.get(uid)
            if existing is not None:
                raise EventExists(existing)
        if response.status not in (200, 201, 204):
            raise StepFailed(
                f"calendar {self.name!r}: creating event {uid} answered HTTP {response.status}"
            )

    def update(self, uid: str, event: icalendar.Event) -> None:
        """PUT over the event, only if it is still the version read (If-Match its ETag)."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if uid in self.etags:
            headers["If-Match"] = self.etags[uid]
        try:
            response = self.client.put(self.href(uid), ical.wrap(event).decode(), headers)
        except Exception as exc:
            raise self._fail("changing the event", exc) from None
        if response.status == 412:
            raise StepFailed(
                f"calendar {self.name!r}: event {uid} was changed by someone else meanwhile"
            )
        if response.status not in (200, 201, 204):
            raise StepFailed(
                f"calendar {self.name!r}: changing event {uid} answered HTTP {response.status}"
            )
        self.etags.pop(uid, None)

    def delete(self, uid: str) -> bool:
        headers = {"If-Match": self.etags.pop(uid)} if uid in self.etags else None
        try:
            response = self.client.request(self.href(uid), "DELETE", "", headers or {})
        except Exception as exc:
            raise self._fail("deleting the event", exc) from None
        if response.status == 404:
            return False
        if response.status == 412:
            raise StepFailed(
                f"calendar {self.name!r}: event {uid} was changed by someone else meanwhile"
            )
        if response.status >= 300:
            raise StepFailed(
                f"calendar {self.name!r}: deleting event {uid} answered HTTP {response.status}"
            )
        return True

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        return self._lock()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


class RedirectRefused(ConnectionError):
    """The server answered with a redirect to another host."""


def _same_origin(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A session hook: a redirect off the calendar's own scheme, host and port is refused."""
    where = response.headers.get("Location") if response.is_redirect else None
    if where:
        here, there = urlsplit(response.url), urlsplit(urljoin(response.url, where))
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            raise RedirectRefused(
                f"the server redirected to another host ({there.scheme}://{there.netloc}); "
                "not followed: give that address as the account's url if it is right"
            )
    return response
