"""A local stand-in for the Google Calendar v3 API and Google's OAuth token endpoint, for the
real google-api-python-client.

It implements what the plugin uses: ``events.list`` (singleEvents required; a time window, or a
full listing that ends with a ``nextSyncToken``, or ``syncToken`` alone: the changes since, 410
``fullSyncRequired`` for a token the server has dropped), ``events.get``, ``events.insert`` (the
id checked as base32hex, times as RFC 3339, ``sendUpdates`` checked, 409 ``duplicate`` for an
existing id, deleted ones included), ``events.patch`` (``If-Match`` against the event's etag:
412), ``events.delete``, ``freeBusy.query``, and the refresh-token grant (``invalid_grant`` for a
revoked token). Every request needs a valid bearer token (401 otherwise). Failures are scripted
per kind of request: a status with headers and a reason, or a delay longer than the client's
timeout after doing the work (the answer is what gets lost).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


@dataclass
class Failure:
    kind: str  # list | get | insert | patch | delete | freebusy | token
    status: int = 500
    reason: str = "backendError"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    perform: bool = False  # with a delay: do the work, then let the answer be lost
    raw: bytes | None = None  # the answer's body as sent (garbage, cut short), with ``status``


class GoogleCalendarServer:
    """Calendars by id -> events by id, on 127.0.0.1."""

    def __init__(self) -> None:
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {"primary": {}}
        self.tokens: set[str] = {"valid-token"}
        self.refresh_tokens: set[str] = {"refresh-1"}
        self.failures: list[Failure] = []
        self.log: list[tuple[str, str, int]] = []  # (kind, path+query, status)
        self.seq = 0  # bumped by every change: sync tokens are sequence numbers
        self.changed: dict[tuple[str, str], int] = {}  # (calendar, event id) -> seq of change
        self.oldest_token = 0  # tokens older than this answer 410 Gone
        self.lock = threading.Lock()
        self._n = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def do_DELETE(self) -> None:
                server._handle(self, "DELETE")

            def do_PATCH(self) -> None:
                server._handle(self, "PATCH")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.log]

    # -- dispatch ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        m = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?", url.path)
        if url.path == "/token" and method == "POST":
            kind = "token"
        elif m and method == "GET":
            kind = "get" if m.group(2) else "list"
        elif m and method == "POST" and not m.group(2):
            kind = "insert"
        elif m and method == "DELETE" and m.group(2):
            kind = "delete"
        elif m and method == "PATCH" and m.group(2):
            kind = "patch"
        elif url.path == "/calendar/v3/freeBusy" and method == "POST":
            kind = "freebusy"
        else:
            return self._send(h, "unknown", 404, {"error": {"code": 404, "message": "no route"}})
        failure = self._failure(kind)
        if failure is not None and not failure.perform:
            time.sleep(failure.delay)
            return self._fail(h, kind, failure)
        if kind == "token":
            status, answer = self._token(dict(urllib.parse.parse_qsl(body.decode())))
        elif h.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            status, answer = 401, _error(401, "Invalid Credentials", "authError")
        elif kind == "freebusy":
            status, answer = self._freebusy(json.loads(body))
        else:
            assert m is not None
            cal = urllib.parse.unquote(m.group(1))
            if kind == "patch":
                query["if-match"] = h.headers.get("If-Match", "")
            status, answer = getattr(self, f"_{kind}")(cal, m.group(2), query, body)
        self.log.append((kind, h.path, status))
        if failure is not None:  # performed; now the answer is lost
            time.sleep(failure.delay)
            if failure.raw is not None:
                return self._send_raw(h, failure.status, failure.raw, failure.headers)
        self._send(h, kind, status, answer, h.path, logged=True)

    def _failure(self, kind: str) -> Failure | None:
        with self.lock:
            for i, f in enumerate(self.failures):
                if f.kind == kind:
                    return self.failures.pop(i)
        return None

    def _fail(self, h: BaseHTTPRequestHandler, kind: str, f: Failure) -> None:
        if f.raw is not None:
            self.log.append((kind, h.path, f.status))
            return self._send_raw(h, f.status, f.raw, f.headers)
        self._send(h, kind, f.status, _error(f.status, f.reason, f.reason), h.path, f.headers)

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        kind: str,
        status: int,
        answer: Any,
        path: str = "",
        headers: dict[str, str] | None = None,
        logged: bool = False,
    ) -> None:
        if not logged:
            self.log.append((kind, path, status))
        data = json.dumps(answer).encode() if answer is not None else b""
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=UTF-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout): the answer is lost

    def _send_raw(
        self, h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]
    ) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=UTF-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass

    # -- endpoints --------------------------------------------------------------------------------
    def _token(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("grant_type") != "refresh_token" or not form.get("client_secret"):
            return 400, {"error": "invalid_request"}
        if form.get("refresh_token") not in self.refresh_tokens:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
        token = f"token-{next(self._n)}"
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _list(self, cal: str, _: Any, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        if cal not in self.calendars:
            return 404, _error(404, "Not Found", "notFound")
        if q.get("singleEvents") != "true":
            return 400, _error(400, "the plugin must ask for single events", "invalid")
        if "syncToken" in q or ("timeMin" not in q and "timeMax" not in q):
            return self._sync(cal, q)
        for key in ("timeMin", "timeMax"):
            if key not in q:
                return 400, _error(400, f"{key} is required here", "required")
        lo, hi = _t(q["timeMin"]), _t(q["timeMax"])
        items = [
            e
            for e in self.calendars[cal].values()
            if e.get("status") != "cancelled" and _start(e) < hi and _end(e) > lo
        ]
        return 200, {"kind": "calendar#events", "items": items}

    def _sync(self, cal: str, q: dict[str, str]) -> tuple[int, Any]:
        """A full listing (deleted events left out unless showDeleted), or the changes since a
        sync token (deleted ones included, as Google does)."""
        if any(k in q for k in ("timeMin", "timeMax", "orderBy", "q")) and "syncToken" in q:
            return 400, _error(400, "syncToken cannot be combined with these", "invalid")
        with self.lock:
            if "syncToken" in q:
                since = int(q["syncToken"].removeprefix("sync-"))
                if since < self.oldest_token:
                    return 410, _error(410, "Sync token is no longer valid.", "fullSyncRequired")
                items = [
                    e
                    for eid, e in self.calendars[cal].items()
                    if self.changed.get((cal, eid), 0) > since
                ]
            else:
                shown = q.get("showDeleted") == "true"
                items = [
                    e
                    for e in self.calendars[cal].values()
                    if shown or e.get("status") != "cancelled"
                ]
            token = f"sync-{self.seq}"
        return 200, {"kind": "calendar#events", "items": items, "nextSyncToken": token}

    def touch(self, cal: str, eid: str) -> None:
        """Record a change of an event (for sync tokens), with a new etag."""
        self.seq += 1
        self.changed[(cal, eid)] = self.seq
        event = self.calendars[cal].get(eid)
        if event is not None:
            event["etag"] = f'"{self.seq}"'
            event["updated"] = f"2026-01-01T00:00:{self.seq % 60:02d}Z"

    def put(self, cal: str, event: dict[str, Any]) -> None:
        """Add or replace an event as someone else would (the trigger tests)."""
        with self.lock:
            self.calendars[cal][event["id"]] = event
            self.touch(cal, event["id"])

    def _patch(self, cal: str, eid: str, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        if q.get("sendUpdates") not in (None, "all", "externalOnly", "none"):
            return 400, _error(400, "bad sendUpdates", "invalid")
        changes = json.loads(body)
        with self.lock:
            event = self.calendars.get(cal, {}).get(eid)
            if event is None:
                return 404, _error(404, "Not Found", "notFound")
            if q["if-match"] and q["if-match"] != event.get("etag"):
                return 412, _error(412, "Precondition Failed", "conditionNotMet")
            for key, value in changes.items():
                if key == "extendedProperties":  # merged property by property, as Google does
                    for scope, props in value.items():
                        event.setdefault("extendedProperties", {}).setdefault(scope, {})
                        event["extendedProperties"][scope].update(props)
                elif key == "id" and value != eid:
                    return 400, _error(400, "the id cannot change", "invalid")
                else:
                    event[key] = value
            self.touch(cal, eid)
        return 200, event

    def _freebusy(self, req: dict[str, Any]) -> tuple[int, Any]:
        """Busy time per calendar: opaque events that are not cancelled, as Google counts."""
        if "timeMin" not in req or "timeMax" not in req or not req.get("items"):
            return 400, _error(400, "timeMin, timeMax and items are required", "required")
        lo, hi = _t(req["timeMin"]), _t(req["timeMax"])
        out: dict[str, Any] = {}
        for item in req["items"]:
            cal = item.get("id")
            if cal not in self.calendars:
                out[cal] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy = [
                {"start": e["start"].get("dateTime"), "end": e["end"].get("dateTime")}
                for e in self.calendars[cal].values()
                if e.get("status") != "cancelled"
                and e.get("transparency") != "transparent"
                and "dateTime" in e["start"]
                and _start(e) < hi
                and _end(e) > lo
            ]
            out[cal] = {"busy": busy}
        return 200, {"kind": "calendar#freeBusy", "calendars": out}

    def _get(self, cal: str, eid: str, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        event = self.calendars.get(cal, {}).get(eid)
        return (200, event) if event else (404, _error(404, "Not Found", "notFound"))

    def _delete(self, cal: str, eid: str, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        return _delete_event(self, cal, eid, q)

    def _insert(self, cal: str, _: Any, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        ev = json.loads(body)
        if q.get("sendUpdates") not in ("all", "externalOnly", "none"):
            return 400, _error(400, "bad sendUpdates", "invalid")
        if not EVENT_ID.match(ev.get("id", "")):
            return 400, _error(400, "Invalid resource id value.", "invalid")
        try:
            if _t(ev["end"]["dateTime"]) <= _t(ev["start"]["dateTime"]):
                return 400, _error(400, "The specified time range is empty.", "timeRangeEmpty")
        except (KeyError, ValueError):
            return 400, _error(400, "bad start or end", "invalid")
        with self.lock:
            if ev["id"] in self.calendars[cal]:
                return 409, _error(409, "The requested identifier already exists.", "duplicate")
            ev.setdefault("status", "confirmed")
            self.calendars[cal][ev["id"]] = ev
            self.touch(cal, ev["id"])
        return 200, ev


def _delete_event(
    server: GoogleCalendarServer, cal: str, eid: str, q: dict[str, str]
) -> tuple[int, Any]:
    """Google keeps a deleted event, cancelled: a second delete is 410 Gone."""
    if q.get("sendUpdates") not in (None, "all", "externalOnly", "none"):
        return 400, _error(400, "bad sendUpdates", "invalid")
    event = server.calendars.get(cal, {}).get(eid)
    if event is None:
        return 404, _error(404, "Not Found", "notFound")
    if event.get("status") == "cancelled":
        return 410, _error(410, "Resource has been deleted", "deleted")
    event["status"] = "cancelled"
    server.touch(cal, eid)
    return 204, None


def _error(code: int, message: str, reason: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _start(e: dict[str, Any]) -> datetime:
    s = e["start"]
    return _t(s["dateTime"]) if "dateTime" in s else _t(s["date"] + "T00:00:00+00:00")


def _end(e: dict[str, Any]) -> datetime:
    s = e["end"]
    return _t(s["dateTime"]) if "dateTime" in s else _t(s["date"] + "T00:00:00+00:00")
