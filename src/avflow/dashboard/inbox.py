"""The approvals inbox: runs waiting for a person's decision, and the approve/reject buttons.

The approvals themselves (storage, decisions, the run going on) are `avflow.approvals`'; this
module only shows them and passes the decision on, always naming the client of the URL, so an
approval of client A cannot be decided through client B's page.
"""

from __future__ import annotations

import getpass
from typing import Any, NamedTuple

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from avflow import approvals
from avflow.app import App
from avflow.dashboard import security, views
from avflow.dashboard.params import client_of, page_of
from avflow.errors import AvflowError
from avflow.loader import Client, Project

PAGE = 25


def decider() -> str:
    """Who decided, as the audit trail records it: this user, through the dashboard (the
    command line records the user alone)."""
    try:
        return f"{getpass.getuser()} (dashboard)"
    except (KeyError, OSError):  # no name for this uid
        return "dashboard"


def pending_counts(app: App, ids: list[str]) -> dict[str, int]:
    """Waiting approvals of the clients ``ids`` (one query for all clients)."""
    counts = approvals.pending_counts(app)
    return {cid: counts[cid] for cid in ids if cid in counts}


def count_all(app: App, scope: list[str] | None) -> int:
    if scope is None:
        return approvals.count_pending(app)
    counts = approvals.pending_counts(app)
    return sum(counts.get(cid, 0) for cid in scope)


class Card(NamedTuple):
    """An approval as its card shows it, and only that: a named tuple, as a page's values are
    its key (`pagecache`, `fragments`), hashed and compared in C."""

    id: str
    client: str
    workflow: str
    run_id: str
    step: str
    summary: str
    preview: tuple[str, ...]
    created: str  # on the client's wall clock
    due: str
    default: str | None


def _card(project: Project, a: Any) -> Card:
    client = project.clients.get(a.client)
    tz = views.zone_of(client) if client is not None else None
    return Card(
        a.id,
        a.client,
        a.workflow,
        a.run_id,
        a.step,
        a.summary,
        tuple(a.preview),
        views.local(a.created_at, tz) if tz else str(a.created_at),
        views.local(a.deadline, tz) if tz and a.deadline else "",
        a.default,
    )


def pending_of(app: App, client: Client, limit: int = PAGE, offset: int = 0) -> list[Card]:
    """``client``'s pending approvals, as cards for the templates."""
    project = Project(app.workflows_dir, {client.id: client})
    return [
        _card(project, a) for a in approvals.pending(app, client.id, limit=limit, offset=offset)
    ]


def _inbox_data(dash: Any, scope: list[str] | None, page: int) -> dict[str, Any]:
    src = dash.source
    app, project = src.app, src.project
    if scope is None:
        items = approvals.pending(app, None, limit=PAGE + 1, offset=page * PAGE)
    else:  # a session limited to some clients: only theirs, newest first
        items = sorted(
            (a for cid in scope for a in approvals.pending(app, cid, limit=PAGE * (page + 1) + 1)),
            key=lambda a: str(a.created_at),
        )[page * PAGE : page * PAGE + PAGE + 1]
    dash.vaults.register(app, {a.client for a in items})
    return {
        "cards": [_card(project, a) for a in items[:PAGE]],
        "page": page,
        "more": len(items) > PAGE,
    }


async def inbox_page(request: Request) -> Response:
    dash = request.app.state.dashboard
    data = await dash.read(_inbox_data, dash, request.session.get("scope"), page_of(request))
    name = "_inbox.html" if "hx-request" in request.headers else "inbox.html"
    return dash.render(request, name, **data)


def _decide(
    dash: Any, client: str, approval_id: str, approve: bool, reason: str | None
) -> tuple[int, str]:
    app = dash.source.app
    try:
        approvals.decide(
            app, approval_id, approve=approve, by=decider(), reason=reason, client=client
        )
    except approvals.UnknownApproval as exc:  # another client's id too: the same answer
        return 404, str(exc)
    except AvflowError as exc:  # decided already, or expired
        return 409, str(exc)
    return 0, ""


def _back(form: dict[str, str], client: str) -> str:
    """Where to go after a decision: the page it was made on (a path of this site only)."""
    target = form.get("next", "")
    allowed = ("/approvals", f"/clients/{client}", f"/clients/{client}/approvals")
    return target if target in allowed else f"/clients/{client}/approvals"


async def _decision(request: Request, form: dict[str, str], approve: bool) -> Response:
    dash = request.app.state.dashboard
    client = client_of(request)
    reason = (form.get("reason") or "").strip()[:500] or None
    if not approve and reason is None:
        raise HTTPException(400, "Say why you reject it: the reason goes into the audit trail.")
    code, error = await dash.call(
        _decide, dash, client.id, request.path_params["approval_id"], approve, reason
    )
    if code:
        raise HTTPException(code, error)
    return RedirectResponse(_back(form, client.id), status_code=303)


@security.csrf_protected
async def approve(request: Request, form: dict[str, str]) -> Response:
    return await _decision(request, form, True)


@security.csrf_protected
async def reject(request: Request, form: dict[str, str]) -> Response:
    return await _decision(request, form, False)


async def client_inbox(request: Request) -> Response:
    dash = request.app.state.dashboard
    client = client_of(request)
    dash.vaults.register(dash.source.app, [client.id])
    cards = await dash.read(pending_of, dash.source.app, client, PAGE)
    name = "_approvals.html" if "hx-request" in request.headers else "client_inbox.html"
    return dash.render(request, name, client=client, approvals=cards, error=None)


def routes() -> list[Route]:
    return [
        Route("/approvals", inbox_page),
        Route("/clients/{client}/approvals", client_inbox),
        Route("/clients/{client}/approvals/{approval_id}/approve", approve, methods=["POST"]),
        Route("/clients/{client}/approvals/{approval_id}/reject", reject, methods=["POST"]),
    ]
