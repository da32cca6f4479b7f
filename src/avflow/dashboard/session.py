"""The session cookie: Starlette's signed cookie, its signature checked once per cookie.

The cookie is Starlette's (`starlette.middleware.sessions`): the session as base64 JSON, signed
with its time by itsdangerous (HMAC), refused once older than ``max_age``; ``Set-Cookie`` only
when a request changed the session (HttpOnly, SameSite, ``Secure`` under TLS). A page polled every
few seconds sends the same cookie again and again: a cookie whose signature was found good is
remembered, read, with the time it was signed, so its next requests only check its age (and
get a copy of its session). Only cookies whose signature is good are remembered (a forged one is
checked, and refused, every time), at most `SIZE` of them.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any

import itsdangerous
from itsdangerous.exc import BadSignature
from starlette.middleware.sessions import Session
from starlette.requests import cookie_parser
from starlette.types import Scope

from avflow.fsutil import atomic_write

ENDED_FILE = "dashboard-sessions-ended"
SIZE = 1024  # good cookies remembered; all are forgotten when it is full


class SessionCookies:
    """The session of a request's signed cookie (`load`), and the ``Set-Cookie`` its answer
    needs (`set_cookie`): what Starlette's session middleware does, for `asgi.DashboardApp`."""

    def __init__(
        self,
        secret_key: str,
        session_cookie: str,
        max_age: int,
        same_site: str = "strict",
        https_only: bool = False,
    ) -> None:
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.cookie = session_cookie
        self.max_age = max_age
        self.flags = f"path=/; httponly; samesite={same_site}" + ("; secure" if https_only else "")
        # a good cookie -> its session (a copy is handed out), signed at
        self._good: dict[str, tuple[dict[str, Any], float]] = {}

    def _load(self, value: str) -> dict[str, Any] | None:
        """The session in cookie ``value`` (a copy of its own), or None (forged, damaged or
        too old)."""
        hit = self._good.get(value)
        if hit is None:
            try:
                payload, signed = self.signer.unsign(
                    value, max_age=self.max_age, return_timestamp=True
                )
                data = json.loads(b64decode(payload))
            except (BadSignature, ValueError):
                return None
            if not isinstance(data, dict):
                return None
            if len(self._good) >= SIZE:
                self._good.clear()
            hit = self._good[value] = (data, signed.timestamp())
        data, signed_at = hit
        if time.time() - signed_at > self.max_age:
            del self._good[value]
            return None
        # a request may change its session: never the kept one (nor a list in it)
        return {k: list(v) if type(v) is list else v for k, v in data.items()}

    def _cookie_of(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"cookie":
                found = cookie_parser(value.decode("latin-1")).get(self.cookie)
                if found is not None:
                    return found
        return None

    def load(self, scope: Scope) -> tuple[Session, bool]:
        """The request's session (empty without a good cookie), and whether it had one."""
        value = self._cookie_of(scope)
        data = self._load(value) if value is not None else None
        return Session(data or {}), data is not None

    def set_cookie(self, session: Session, had: bool) -> bytes | None:
        """The ``Set-Cookie`` header's value for an answer, if its request changed the session:
        the session signed anew, or (cleared: logged out) the browser told to forget it."""
        if not session.modified:
            return None
        if session:
            signed = self.signer.sign(b64encode(json.dumps(session).encode()))
            cookie = f"{self.cookie}={signed.decode()}; Max-Age={self.max_age}; {self.flags}"
        elif had:
            cookie = f"{self.cookie}=null; expires=Thu, 01 Jan 1970 00:00:00 GMT; {self.flags}"
        else:
            return None
        return cookie.encode("latin-1")


class EndedSessions:
    """Sessions ended by logging out, by their id (``sid``, made at login), kept in the home folder
    (0600) until they would have expired anyway: a cookie copied before logging out is refused,
    after a restart too. Checked in memory (a set look-up a request); written at each logout."""

    def __init__(self, path: Path, max_age: int) -> None:
        self.path = path
        self.max_age = max_age
        self._ends: dict[str, float] = {}  # session id -> when its cookie would have expired
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):  # none yet (or unreadable: sessions then end at their age)
            kept = {}
        if isinstance(kept, dict):
            now = time.time()
            self._ends = {
                k: float(v)
                for k, v in kept.items()
                if isinstance(k, str) and isinstance(v, int | float) and v > now
            }

    def __contains__(self, sid: object) -> bool:
        return sid in self._ends

    def end(self, sid: str) -> None:
        """End session ``sid`` for good (forgetting those expired meanwhile)."""
        now = time.time()
        self._ends = {k: v for k, v in self._ends.items() if v > now}
        self._ends[sid] = now + self.max_age
        atomic_write(self.path, json.dumps(self._ends).encode(), mode=0o600)
