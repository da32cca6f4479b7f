"""The approvals inbox: runs waiting for a person's decision, and the approve/reject buttons.

The approvals themselves (storage, decisions, the run going on) are `avflow.approvals`'; this
module only shows them and passes the decision on, always naming the client of the URL, so an
approval of client A cannot be decided through client B's page.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from avflow import approvals
from avflow.app import App
from avflow.approval_store import FIELDS
from avflow.dashboard import security, views
from avflow.dashboard.fragments import RowLines
from avflow.dashboard.params import client_of, page_of
from avflow.errors import AvflowError
from avflow.loader import Client, Project

PAGE = 25
CLIENT, CREATED = FIELDS.index("client"), FIELDS.index("created_at")


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


@dataclass(frozen=True)
class ApprovalLines(RowLines):
    """A page of approvals as their query returned them (`approvals.pending_values`), each with
    its client's time zone after its values (plain values, hashable, so a kept page's key too,
    `pagecache`): a card (`Card`) is made of a row only when it is rendered, and `Fragments`
    keeps each card's HTML by its id with its row (a polled inbox: the rows compared)."""

    rows: tuple[tuple[Any, ...], ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Card]:
        return map(self.line, self.rows)

    def line(self, row: tuple[Any, ...]) -> Card:
        (
            id_, client, workflow, run_id, step, summary, preview, created, deadline, default,
            _status, _by, _at, _reason, zone,
        ) = row  # fmt: skip
        tz = views.zone(zone) if zone else None
        return Card(
            id_,
            client,
            workflow,
            run_id,
            step,
            summary,
            tuple(json.loads(preview or "[]")),
            views.local(created, tz) if tz else str(datetime.fromisoformat(created)),
            views.local(deadline, tz) if tz and deadline else "",
            default,
        )


def approval_lines(project: Project, rows: list[tuple[Any, ...]]) -> ApprovalLines:
    """``rows`` (`approvals.pending_values`), each with its client's time zone (None: a client
    no longer in the project, whose times are shown in UTC)."""
    get = project.clients.get
    return ApprovalLines(
        tuple([(*v, c.profile.timezone if (c := get(v[CLIENT])) else None) for v in rows])
    )


def pending_of(app: App, client: Client, limit: int = PAGE, offset: int = 0) -> ApprovalLines:
    """``client``'s pending approvals, as cards for the templates."""
    zone = (client.profile.timezone,)
    rows = approvals.pending_values(app, client.id, limit=limit, offset=offset)
    return ApprovalLines(tuple([v + zone for v in rows]))


def _inbox_data(dash: Any, scope: list[str] | None, page: int) -> dict[str, Any]:
    src = dash.source
    app = src.app
    if scope is None:
        rows = approvals.pending_values(app, None, limit=PAGE + 1, offset=page * PAGE)
    else:  # a session limited to some clients: only theirs, oldest first (ISO UTC times)
        rows = sorted(
            (
                v
                for cid in scope
                for v in approvals.pending_values(app, cid, limit=PAGE * (page + 1) + 1)
            ),
            key=lambda v: str(v[CREATED]),
        )[page * PAGE : page * PAGE + PAGE + 1]
    dash.vaults.register(app, {v[CLIENT] for v in rows})
    return {
        "cards": approval_lines(src.project, rows[:PAGE]),
        "page": page,
        "more": len(rows) > PAGE,
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
