"""A local stand-in for the Google Calendar v3 API and Google's OAuth token endpoint, for the
real google-api-python-client.

It implements what the plugin uses: ``events.list`` (timeMin/timeMax/singleEvents required;
events are stored as single instances, as Google returns them with singleEvents), ``events.get``
and ``events.insert`` (the id checked as base32hex, times as RFC 3339, ``sendUpdates`` checked,
409 ``duplicate`` for an existing id), and the refresh-token grant (``invalid_grant`` for a
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
    kind: str  # list | get | insert | token
    status: int = 500
    reason: str = "backendError"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    perform: bool = False  # with a delay: do the work, then let the answer be lost


class GoogleCalendarServer:
    """Calendars by id -> events by id, on 127.0.0.1."""

    def __init__(self) -> None:
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {"primary": {}}
        self.tokens: set[str] = {"valid-token"}
        self.refresh_tokens: set[str] = {"refresh-1"}
        self.failures: list[Failure] = []
        self.log: list[tuple[str, str, int]] = []  # (kind, path+query, status)
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
        else:
            assert m is not None
            cal = urllib.parse.unquote(m.group(1))
            status, answer = getattr(self, f"_{kind}")(cal, m.group(2), query, body)
        self.log.append((kind, h.path, status))
        if failure is not None:  # performed; now the answer is lost
            time.sleep(failure.delay)
        self._send(h, kind, status, answer, h.path, logged=True)

    def _failure(self, kind: str) -> Failure | None:
        with self.lock:
            for i, f in enumerate(self.failures):
                if f.kind == kind:
                    return self.failures.pop(i)
        return None

    def _fail(self, h: BaseHTTPRequestHandler, kind: str, f: Failure) -> None:
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
        for key in ("timeMin", "timeMax"):
            if key not in q:
                return 400, _error(400, f"{key} is required here", "required")
        if q.get("singleEvents") != "true":
            return 400, _error(400, "the plugin must ask for single events", "invalid")
        lo, hi = _t(q["timeMin"]), _t(q["timeMax"])
        items = [
            e
            for e in self.calendars[cal].values()
            if e.get("status") != "cancelled" and _start(e) < hi and _end(e) > lo
        ]
        return 200, {"kind": "calendar#events", "items": items}

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
            ev["status"] = "confirmed"
            self.calendars[cal][ev["id"]] = ev
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
