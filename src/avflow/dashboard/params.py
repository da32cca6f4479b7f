"""What every dashboard route reads from its request: the dashboard, the page, the client."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from avflow.dashboard import security
from avflow.loader import Client

MAX_PAGE = 100_000


def dash_of(request: Request) -> Any:
    """The `avflow.dashboard.web.Dashboard` serving this request."""
    return request.app.state.dashboard


def page_of(request: Request) -> int:
    """The ``page`` query parameter (0 when missing or not a small number)."""
    if not request.scope.get("query_string"):  # the usual case: no parameters to parse
        return 0
    raw = request.query_params.get("page", "0")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and len(raw) < 8 else 0


def client_of(request: Request) -> Client:
    """The client named in the URL, if this session may see it (404 otherwise, alike)."""
    cid = request.path_params["client"]
    security.allowed(request, cid)
    client = dash_of(request).source.project.clients.get(cid)
    if client is None:
        raise HTTPException(404, "no such client")
    return client
