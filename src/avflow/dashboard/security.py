"""Who may use the dashboard: the login token, the session, CSRF and Origin checks.

- The login token is made on the service's first start, printed once, and kept in
  ``$AVFLOW_HOME/dashboard-token`` (0600). Logging in with it gives a signed session cookie
  (HttpOnly, SameSite=Strict, ``Secure`` under TLS); the cookie's signing key is derived from the
  token, so a new token (delete the file, restart) ends every session; logging out ends its own
  session for good (`session.EndedSessions`: a copy of its cookie is refused).
- Every request but the login page and the static files needs that session (checked by
  `asgi.DashboardApp`, which also adds `HEADERS` to every answer).
- Every POST carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``)
  and, when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``), comes from the
  dashboard itself (`check_post`).
- A session may be limited to some clients (``scope``): every page checks it (`allowed`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request

from avflow.fsutil import atomic_write

TOKEN_FILE = "dashboard-token"
MAX_FORM = 64 * 1024  # bytes a POSTed form may have
LOGIN_PATH = "/login"  # answers without a session: this exact path (not /login-page) ...
STATIC_PREFIX = "/static/"  # ... and the static files (no data)
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" makes browsers send "Origin: null"
    (b"cache-control", b"no-store"),
]


def is_public(path: str) -> bool:
    """Whether ``path`` answers without a session: the login page, exactly, and the static files
    (a prefix test of ``/login`` let ``/login-page`` and ``/loginX`` through to the 404 page)."""
    return path == LOGIN_PATH or path.startswith(STATIC_PREFIX)


def load_token(home: Path) -> tuple[str, bool]:
    """The login token, and whether it was just made (then it is shown once, by the caller)."""
    path = home / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if token:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a copied file may have come with a looser mode
        return token, False
    token = secrets.token_urlsafe(32)
    atomic_write(path, f"{token}\n".encode(), mode=0o600)
    return token, True


def session_key(token: str) -> str:
    """The cookie signing key: derived from the token, so a new token ends old sessions."""
    return hashlib.sha256(b"avflow-dashboard-session\0" + token.encode()).hexdigest()


def token_matches(token: str, given: str) -> bool:
    return hmac.compare_digest(token.encode(), given.strip().encode())


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (made when first asked for)."""
    value = session.get("csrf")
    if not isinstance(value, str) or len(value) < 16:
        value = session["csrf"] = secrets.token_urlsafe(24)
    return value


def log_in(session: dict[str, Any], scope: list[str] | None = None) -> None:
    """Start an authenticated session (a new CSRF token: a pre-login one is never reused), with
    an id of its own, by which logging out ends it for good (`session.EndedSessions`)."""
    session.clear()
    session["auth"] = True
    session["sid"] = secrets.token_urlsafe(18)
    session["scope"] = scope  # None: every client (the AV); a list: those clients only
    csrf_token(session)


def allowed(request: Request, client: str) -> None:
    """404 unless this session may see ``client`` (the same answer as for an unknown client)."""
    scope = request.session.get("scope")
    if scope is not None and client not in scope:
        raise HTTPException(404, "no such client")


def _same_origin(headers: Headers, scheme: str) -> bool:
    origin = headers.get("origin")
    if origin is not None and origin != f"{scheme}://{headers.get('host', '')}":
        return False
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def check_post(request: Request) -> dict[str, str]:
    """The POSTed form, once its origin and CSRF token are checked (403 otherwise)."""
    if not _same_origin(request.headers, request.url.scheme):
        raise HTTPException(403, "cross-site request refused")
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_FORM:  # forms here are small; never stream one
        raise HTTPException(413, "a form of at most 64 KiB, with its length, please")
    form = await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    given = request.headers.get("x-csrf-token") or fields.get("csrf", "")
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return fields


def csrf_protected(
    handler: Callable[[Request, dict[str, str]], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Any]]:
    """Wrap a POST handler: it is called with the checked form, or never."""

    async def endpoint(request: Request) -> Any:
        return await handler(request, await check_post(request))

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
