"""The dashboard's pages: home (clients), a client, its runs, a run, attention, audit status.

Each handler checks the session's scope for the client in its URL, does its reading off the
event loop, and renders the whole page, or only its fragment for htmx's polling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from avflow.dashboard import inbox, views
from avflow.dashboard.auditstatus import audit_status
from avflow.dashboard.params import client_of, dash_of, page_of
from avflow.dashboard.store import RUN_NAMES
from avflow.loader import Client
from avflow.scheduler.store import parse_iso


def service_line(dash: Any, now: datetime) -> str:
    """One line on the service: since when it runs, its last heartbeat."""
    st = dash.schedule.status()
    beat = parse_iso(st.get("heartbeat"))
    if st.get("state") != "running" or beat is None:
        return "service not running"
    age = int((now - beat).total_seconds())
    return f"service running (pid {st.get('pid', '?')}) since {st.get('started_at', '?')}; heartbeat {age}s ago"


def _home_data(dash: Any, scope: list[str] | None, page: int) -> dict[str, Any]:
    src = dash.source
    now = src.app.clock.now()
    ids, more = views.client_page(src.project, scope, page)
    dash.vaults.register(src.app, ids)
    pending = inbox.pending_counts(src.app, ids)
    return {
        "rows": views.client_rows(src, dash.store, ids, pending, now),
        "page": page,
        "more": more,
        "service": service_line(dash, now),
        "pending_total": inbox.count_all(src.app, scope),
    }


async def home(request: Request) -> Response:
    dash = dash_of(request)
    data = await dash.read(_home_data, dash, request.session.get("scope"), page_of(request))
    name = "_clients.html" if "hx-request" in request.headers else "home.html"
    return dash.render(request, name, **data)


def _runs_data(dash: Any, client: Client, page: int, workflow: str | None) -> dict[str, Any]:
    dash.vaults.register(dash.source.app, [client.id])  # before the page is rendered (masked)
    rows = dash.store.runs(
        client.id,
        workflow=workflow,
        limit=views.RUNS_PAGE + 1,
        offset=page * views.RUNS_PAGE,
    )
    runs = views.RunLines(RUN_NAMES, tuple(rows[: views.RUNS_PAGE]), views.zone_of(client))
    return {
        "client": client,
        "runs": runs,
        "page": page,
        "more": len(rows) > views.RUNS_PAGE,
        "workflow": workflow,
    }


def _client_data(dash: Any, client: Client) -> dict[str, Any]:
    app = dash.source.app  # the client's vault is registered by _runs_data
    now = app.clock.now()
    return {
        "client": client,
        "zone": f"{client.profile.timezone} ({now.astimezone(views.zone_of(client)).tzname()})",
        "workflows": views.workflows_health(
            dash.source, dash.store, dash.schedule, client, dash.figures.health, now
        ),
        "upcoming": dash.figures.upcoming(client, now),
        "counts": dash.store.run_counts(client.id),
        "approvals": inbox.pending_of(app, client, limit=10),
        **_runs_data(dash, client, 0, None),
    }


async def client_page(request: Request) -> Response:
    dash = dash_of(request)
    client = client_of(request)
    data = await dash.read(_client_data, dash, client)
    # htmx polls the live part: workflows, firings, runs, approvals
    name = "_client_live.html" if "hx-request" in request.headers else "client.html"
    return dash.render(request, name, **data)


async def runs_page(request: Request) -> Response:
    dash = dash_of(request)
    client = client_of(request)
    workflow = request.query_params.get("workflow") or None
    if workflow is not None and workflow not in client.workflows:
        workflow = None
    data = await dash.read(_runs_data, dash, client, page_of(request), workflow)
    name = "_runs.html" if "hx-request" in request.headers else "runs.html"
    return dash.render(request, name, **data)


def _run_data(dash: Any, client: Client, run_id: str) -> dict[str, Any]:
    dash.vaults.register(dash.source.app, [client.id])
    row = dash.store.run(client.id, run_id)
    if row is None:
        raise HTTPException(404, "no such run")
    tz = views.zone_of(client)
    steps = [
        {
            **dict(s),
            "started": views.local(s["started_at"], tz),
            "ended": views.local(s["finished_at"], tz),
        }
        for s in dash.store.steps(run_id)
    ]
    return {
        "client": client,
        "run": dict(row),
        "when": views.local(row["scheduled_at"] or row["created_at"], tz),
        "started": views.local(row["started_at"], tz),
        "finished": views.local(row["finished_at"], tz),
        "steps": steps,
        "effects": views.effects_of(dash.source.app, run_id),
        "live": row["status"] in ("pending", "running", "waiting"),
    }


async def run_page(request: Request) -> Response:
    dash = dash_of(request)
    client = client_of(request)
    data = await dash.read(_run_data, dash, client, request.path_params["run_id"])
    name = "_run.html" if "hx-request" in request.headers else "run.html"
    return dash.render(request, name, **data)


async def audit_fragment(request: Request) -> Response:
    dash = dash_of(request)
    client = client_of(request)
    status = await dash.call(audit_status, dash.source.app, client.id)
    return dash.render(request, "_audit.html", client=client, audit=status)


def _attention_data(dash: Any, scope: list[str] | None, page: int) -> dict[str, Any]:
    src = dash.source
    ids, more = views.client_page(src.project, scope, page)
    flagged = []
    dash.vaults.register(src.app, ids)
    for cid in ids:
        client = src.project.clients[cid]
        for wf in views.workflows_health(
            src, dash.store, dash.schedule, client, dash.figures.health
        ):
            if wf.flags:
                flagged.append((client, wf))
    return {"flagged": flagged, "page": page, "more": more}


async def attention(request: Request) -> Response:
    dash = dash_of(request)
    data = await dash.call(_attention_data, dash, request.session.get("scope"), page_of(request))
    name = "_attention.html" if "hx-request" in request.headers else "attention.html"
    return dash.render(request, name, **data)


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/clients/{client}", client_page),
        Route("/attention", attention),
        Route("/clients/{client}/runs", runs_page),
        Route("/clients/{client}/runs/{run_id}", run_page),
        Route("/clients/{client}/audit", audit_fragment),
    ]
