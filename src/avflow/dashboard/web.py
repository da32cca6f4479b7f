"""The dashboard's application (`asgi.DashboardApp`): pages, their live fragments, the login.

Every page is rendered by Jinja2 from the package's templates; a request made by htmx (header
``HX-Request``) gets the page's fragment only, which the page polls for live updates. Every page
passes through `avflow.redact` once rendered (`masking.mask_html`), so a secret value known to
the process is never rendered. Routes under ``/clients/{client}`` check that the
session may see that client (`security.allowed`) and pass it to every query.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, MutableMapping
from functools import partial
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from avflow.dashboard import inbox, pages, security
from avflow.dashboard.asgi import DashboardApp
from avflow.dashboard.figures import ScheduleFigures
from avflow.dashboard.fragments import Fragments
from avflow.dashboard.masking import VaultWatch, mask_html
from avflow.dashboard.pagecache import SIZE, PageCache
from avflow.dashboard.session import ENDED_FILE, EndedSessions, SessionCookies
from avflow.dashboard.store import DashboardStore
from avflow.dashboard.views import Source
from avflow.scheduler.store import ScheduleStore

SESSION_HOURS = 12
HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")


INCLUDE = re.compile(r'{%-?\s*include\s+"([^"]+)"\s*-?%}')
EXTENDS = re.compile(r'\A{%\s*extends\s+"([^"]+)"\s*%}')
BLOCK = re.compile(r"{%\s*block\s+(\w+)\s*%}(.*?){%\s*endblock\s*%}", re.S)


class InliningLoader(jinja2.BaseLoader):
    """The package's templates, each ``{% include "NAME" %}`` replaced by NAME's text as the
    template is loaded. An include is looked up and given a context of its own at every
    rendering (about 40,000 instructions; a client page has three): inlined, a page is one
    template and renders the same text. Included templates keep their final newline out, as
    Jinja does; none sets a name another part of its page uses. A page that extends another
    (``{% extends "base.html" %}`` and its blocks) is loaded as that other page's text with its
    blocks' contents in place (still blocks): Jinja otherwise looks the base template up and
    renders it through one more generator at every rendering. Only plain blocks, not nested and
    without ``super()``, are inlined so; any other page is left to Jinja."""

    def __init__(self) -> None:
        self._package = jinja2.PackageLoader("avflow.dashboard", "templates")

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self._package.get_source(environment, template)
        source = INCLUDE.sub(lambda m: self._part(environment, m[1]), source)
        return self._extended(environment, source), filename, uptodate

    def _extended(self, environment: jinja2.Environment, source: str) -> str:
        """``source`` with the page it extends inlined (unchanged when it extends none, or in
        a way this does not handle)."""
        found = EXTENDS.match(source)
        if found is None:
            return source
        blocks = {m[1]: m[2] for m in BLOCK.finditer(source)}
        base = self.get_source(environment, found[1])[0]
        if any("{%" in t and ("block" in t or "super" in t) for t in blocks.values()) or set(
            blocks
        ) - {m[1] for m in BLOCK.finditer(base)}:
            return source  # nested blocks, super(), a block the base has not: Jinja's way
        return BLOCK.sub(
            lambda m: f"{{% block {m[1]} %}}{blocks.get(m[1], m[2])}{{% endblock %}}", base
        )

    def _part(self, environment: jinja2.Environment, name: str) -> str:
        text = self.get_source(environment, name)[0]
        return text[:-1] if text.endswith("\n") else text


class _Environment(jinja2.Environment):
    """Jinja's environment, each template's globals a plain dict (a snapshot of the environment's,
    which are empty here) rather than a `ChainMap` over them: a rendering tests the globals and
    lists their keys, both in Python for a `ChainMap`, about 3,000 instructions a rendering."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def _environment() -> jinja2.Environment:
    env = _Environment(
        loader=InliningLoader(),
        autoescape=True,
        auto_reload=False,
    )
    # Jinja's own globals (range, dict, lipsum...) are unused here, and a rendering copies them
    # into its context through a ChainMap, key by key in Python: a third of an empty template's
    # rendering (about 25,000 instructions a template)
    env.globals.clear()
    env.filters["status_class"] = lambda s: f"st-{s}" if s else "st-none"
    # the items of a list, as filters: ``{{ runs|run_rows(client.id) }}``
    env.filters["cards"] = Fragments(env, "_card.html", "card")  # approvals waiting
    for row in ("run_row", "client_row", "workflow_row", "firing_row"):  # lines of a table
        env.filters[f"{row}s"] = Fragments(env, "_rows.html", row)
    return env


class Page(HTMLResponse):
    """A rendered page: what `HTMLResponse` sends (the same headers, in the same order), made
    without its general case (a page is never a 1xx, 204 or 304, and has no other header)."""

    def __init__(self, html: str, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body = html.encode()
        self.raw_headers = [(b"content-length", str(len(body)).encode()), HTML_TYPE]


class Dashboard:
    """What the routes share: where to read, the templates, the token, the secrets seen."""

    def __init__(self, source: Source, token: str, keep_pages: bool = True) -> None:
        self.source = source
        self.token = token
        self.env = _environment()
        self.vaults = VaultWatch()  # the vault values the redaction knows
        self.figures = ScheduleFigures()  # upcoming firings and health, kept for the minute
        self.pages = PageCache(SIZE if keep_pages else 0)  # pages kept by what they show
        self._store: DashboardStore | None = None
        self._schedule: ScheduleStore | None = None

    @property
    def store(self) -> DashboardStore:
        state = self.source.app.state
        if self._store is None or self._store.state is not state:
            self._store = DashboardStore(state)
        return self._store

    @property
    def schedule(self) -> ScheduleStore:
        """The scheduler's tables (made once: making one checks its schema)."""
        state = self.source.app.state
        if self._schedule is None or self._schedule.state is not state:
            self._schedule = ScheduleStore(state)
        return self._schedule

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """The page ``name`` with ``context``, its CSRF token and its path (``here``): kept by
        all of them (`PageCache`), masked for the secrets known now."""
        context.setdefault("csrf", security.csrf_token(request.session))
        context.setdefault("here", request.scope.get("root_path", "") + request.scope["path"])
        template = self.env.get_template(name)
        html = mask_html(self.pages.render(name, context, partial(template.render, context)))
        return Page(html, status)

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A page's reading, on the event loop: a few indexed queries on one page of rows (WAL:
        a reader never waits for the service's writes), cheaper than a hop to a thread."""
        return fn(*args, **kwargs)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Longer work off the event loop: verifying a trail, a decision (fsynced), the
        attention page's health of 50 clients."""
        return await asyncio.to_thread(partial(fn, *args, **kwargs))


async def login_page(request: Request) -> Response:
    dash: Dashboard = request.app.state.dashboard
    return dash.render(request, "login.html", error=None)


@security.csrf_protected
async def login(request: Request, form: dict[str, str]) -> Response:
    dash: Dashboard = request.app.state.dashboard
    if not security.token_matches(dash.token, form.get("token", "")):
        return dash.render(request, "login.html", status=401, error="That is not the login token.")
    security.log_in(request.session)
    return RedirectResponse("/", status_code=303)


@security.csrf_protected
async def logout(request: Request, form: dict[str, str]) -> Response:
    sid = request.session.get("sid")
    if isinstance(sid, str):  # a copy of the cookie is refused from now on
        await asyncio.to_thread(request.app.state.ended.end, sid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def not_found(request: Request, exc: HTTPException) -> Response:
    dash: Dashboard = request.app.state.dashboard
    return dash.render(
        request, "error.html", status=exc.status_code, message=exc.detail, code=exc.status_code
    )


def create_app(
    source: Source,
    token: str,
    *,
    https: bool = False,
    hosts: list[str] | None = None,
    cookie: str = "avflow_session",
    keep_pages: bool = True,
) -> DashboardApp:
    """The dashboard over ``source``, logged into with ``token``.

    ``hosts``: the ``Host`` names it answers to (the others are refused: DNS rebinding).
    ``cookie``: the session cookie's name (the service adds its port: cookies ignore ports).
    ``keep_pages``: False renders every page anew (`PageCache`; the benchmark's stricter reading).
    """
    from importlib.resources import files

    ended = EndedSessions(source.app.home / ENDED_FILE, SESSION_HOURS * 3600)
    static = StaticFiles(directory=str(files("avflow.dashboard") / "static"))
    routes = [  # the pages first: routes are matched in turn, and they are most asked for
        *pages.routes(),
        *inbox.routes(),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", static, name="static"),
    ]
    app = DashboardApp(
        routes,
        hosts=hosts or ["127.0.0.1", "localhost", "[::1]"],
        sessions=SessionCookies(
            security.session_key(token),
            cookie,
            SESSION_HOURS * 3600,
            https_only=https,
        ),
        ended=ended,
        on_error=not_found,
    )
    app.state.dashboard = Dashboard(source, token, keep_pages)
    app.state.ended = ended
    return app
