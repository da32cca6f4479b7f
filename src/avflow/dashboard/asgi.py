"""The dashboard's ASGI application: one layer doing, per request, what Starlette's application,
its error and exception middlewares and three of ours did one after the other.

For each HTTP request, in this order:

- the ``Host`` header is one the dashboard answers to (DNS rebinding): checked by Starlette's
  `TrustedHostMiddleware`, each ``Host`` it let through remembered (at most `KNOWN_HOSTS`), so
  the requests of a polling page are not parsed and checked again;
- the session of its signed cookie (`session.SessionCookies`) is ``scope["session"]``;
- nothing but the login page (``/login`` exactly) and the static files (``/static/``) answers
  without a logged-in session that was not ended by logging out (``ended``): a page redirects
  to the login, htmx or a POST gets 401;
- the route: a path without parameters looked up in a dict, one with parameters matched by
  its route's own pattern (`Route.matches`, in the routes' order), the others (a mount, and
  every 404, 405 and trailing-slash redirect) by Starlette's `Router`, with the same routes;
- an `HTTPException` is answered by ``on_error`` (the error page); any other exception by a
  plain 500 (and raised again, for the server to log), as Starlette's application does;
- every answer gets the security headers (`security.HEADERS`), and a ``Set-Cookie`` when the
  request changed its session.

CSRF and Origin are checked by each POST handler (`security.csrf_protected`); client scoping by
each route (`security.allowed`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Container, Sequence
from typing import cast

from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Message, Receive, Scope, Send

from avflow.dashboard.security import HEADERS, is_public
from avflow.dashboard.session import SessionCookies

KNOWN_HOSTS = 64  # Host headers remembered as allowed
Endpoint = Callable[[Request], Awaitable[Response]]
ErrorPage = Callable[[Request, HTTPException], Awaitable[Response]]


def _host_of(scope: Scope) -> bytes | None:
    """The request's first ``Host`` header, as sent (the one Starlette reads)."""
    for name, value in scope["headers"]:
        if name == b"host":
            return bytes(value)
    return None


def _direct(route: BaseRoute) -> bool:
    """A route whose endpoint can be called directly: a coroutine function taking the request
    (what Starlette's `Route` would call), for given methods."""
    return (
        isinstance(route, Route)
        and bool(route.methods)  # None: any method (not a function's route)
        and inspect.iscoroutinefunction(route.endpoint)
    )


def _exact_routes(routes: Sequence[BaseRoute]) -> dict[str, dict[str, Endpoint]]:
    """Path -> method -> endpoint, for the direct routes of a path without parameters."""
    exact: dict[str, dict[str, Endpoint]] = {}
    for route in routes:
        if _direct(route) and not cast(Route, route).param_convertors:
            methods = exact.setdefault(cast(Route, route).path, {})
            for method in cast(Route, route).methods or ():
                methods.setdefault(method, cast(Route, route).endpoint)
    return exact


class DashboardApp:
    """The dashboard: ``routes`` (Starlette's `Route` and `Mount`), behind the checks above."""

    def __init__(
        self,
        routes: list[BaseRoute],
        *,
        hosts: list[str],
        sessions: SessionCookies,
        ended: Container[object],
        on_error: ErrorPage,
    ) -> None:
        self.routes = routes
        self.state = State()
        self.sessions = sessions
        self.ended = ended
        self.on_error = on_error
        self._router = Router(routes=routes)
        self._exact = _exact_routes(routes)
        # the direct routes with parameters, in their order (a Mount, any other: the Router's)
        self._with_params = [
            cast(Route, r) for r in routes if _direct(r) and cast(Route, r).param_convertors
        ]
        self._known: set[bytes] = set()
        self._checked = TrustedHostMiddleware(self._allowed, allowed_hosts=hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        if scope["type"] != "http":  # lifespan (no handlers); a websocket: no such route
            await self._router(scope, receive, send)
        elif _host_of(scope) in self._known:
            await self._answer(scope, receive, send)
        else:
            await self._checked(scope, receive, send)

    async def _allowed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request whose ``Host`` `TrustedHostMiddleware` let through: remembered."""
        host = _host_of(scope)
        if host is not None:
            if len(self._known) >= KNOWN_HOSTS:
                self._known.clear()
            self._known.add(host)
        await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        session, had = self.sessions.load(scope)
        scope["session"] = session
        started = False

        async def send_out(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", ()), *HEADERS]
                cookie = self.sessions.set_cookie(session, had)
                if cookie is not None:
                    headers.append((b"set-cookie", cookie))
                message["headers"] = headers
            await send(message)

        try:
            sid = session.get("sid")  # none in a cookie older than session ids: log in again
            if (
                session.get("auth") is True and isinstance(sid, str) and sid not in self.ended
            ) or is_public(scope["path"]):
                await self._route(scope, receive, send_out)
            else:
                await self._refused(scope)(scope, receive, send_out)
        except HTTPException as exc:
            if started:
                raise RuntimeError("an HTTPException once the answer had started") from exc
            response = await self.on_error(Request(scope, receive, send), exc)
            await response(scope, receive, send_out)
        except Exception:
            if not started:  # as Starlette's application: a plain 500, and the error raised
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send
                )
            raise

    @staticmethod
    def _refused(scope: Scope) -> Response:
        """No session: a page asks to log in; htmx, a POST (any other method) get 401."""
        if scope["method"] == "GET" and not any(k == b"hx-request" for k, _v in scope["headers"]):
            return RedirectResponse("/login", status_code=303)
        return PlainTextResponse("log in first", status_code=401)

    def _endpoint(self, scope: Scope) -> Endpoint | None:
        """The endpoint of a request to a direct route (``scope`` given its ``path_params``), or
        None: a mount, or no such route or method (the Router's 404, 405 or redirect)."""
        methods = self._exact.get(scope["path"])
        if methods is not None:
            endpoint = methods.get(scope["method"])
            scope["path_params"] = {}
            return endpoint
        for route in self._with_params:  # as the Router tries them: the first that matches
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope["path_params"] = child["path_params"]
                return cast(Endpoint, child["endpoint"])
            if match is Match.PARTIAL:  # another method: the Router's answer
                return None
        return None

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoint(scope)
        if endpoint is None:  # a mount, or no such route (404, 405 raised)
            await self._router(scope, receive, send)
            return
        scope["endpoint"] = endpoint
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
