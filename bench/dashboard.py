"""Benchmark: dashboard pages beside the SQL queries they make, on a large state.db.

    .venv/bin/python bench/dashboard.py [--clients 1000] [--runs 100000] [--approvals 1000] [--trials 20]

Fills a temporary home with ``--clients`` clients (8 timezones, two workflows each, one gated
to working hours), ``--runs`` runs spread over them (about 1 in 20 failed) and ``--approvals``
pending approvals, then times three pages (logged in, warm): the home page (first page of
clients), a client page and the approvals inbox, each beside the same queries made alone
through the same classes (`DashboardStore`, `avflow.approvals`, `ScheduleStore`). Pages are
timed twice: through the ASGI application in this process (what the dashboard's code costs),
and over HTTP from uvicorn on a loopback port (what a browser waits for, the TCP hop between two
threads included). Trials alternate page and queries; the figures are medians of ``--trials``
warm requests, and their ratio. Goal: each page at most 3x its queries.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ holds scripts named like standard modules (calendar.py): never import from it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ZONES = [
    "Europe/Rome",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Berlin",
    "UTC",
]
INBOX = """name: Inbox triage
on:
  schedule:
    - cron: "*/10 * * * *"
  when: working_hours
steps:
  - id: say
    uses: core.log
    with: {{ message: "inbox {i}" }}
"""
REPORT = """name: Weekly report
on:
  schedule:
    - cron: "0 8 * * 1"
steps:
  - id: say
    uses: core.log
    with: {{ message: "report {i}" }}
"""


def make_workflows(root: Path, clients: int) -> list[str]:
    ids = [f"client{i:04d}" for i in range(clients)]
    for i, cid in enumerate(ids):
        d = root / cid
        d.mkdir(parents=True)
        (d / "client.yaml").write_text(
            f"name: Client {i}\ntimezone: {ZONES[i % len(ZONES)]}\nholidays: IT\n"
        )
        (d / "inbox.yaml").write_text(INBOX.format(i=i))
        (d / "report.yaml").write_text(REPORT.format(i=i))
    return ids


def fill_runs(db: Path, ids: list[str], runs: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(runs):
        cid = ids[n % len(ids)]
        wf = "inbox" if rng.random() < 0.8 else "report"
        t = start + timedelta(seconds=n * 30)
        at = t.isoformat(timespec="microseconds")
        status = "failed" if rng.random() < 0.05 else "succeeded"
        rows.append(
            (
                uuid.uuid4().hex[:16],
                f"{cid}/{wf}@{at}",
                cid,
                wf,
                at,
                "schedule",
                status,
                "step say: boom" if status == "failed" else None,
                at,
                at,
                (t + timedelta(seconds=2)).isoformat(timespec="microseconds"),
            )
        )
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            """INSERT INTO runs (id, key, client, workflow, scheduled_at, trigger, status, error,
                 created_at, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
    con.execute("ANALYZE")
    con.close()


def fill_approvals(app: Any, ids: list[str], count: int) -> None:
    """Pending approvals through the approvals module's own store, as waiting runs leave them."""
    from avflow.approval_store import ApprovalStore, iso
    from avflow.approvals import new_id

    store = ApprovalStore(app.state)
    runs = app.state.db.execute("SELECT id, client FROM runs LIMIT ?", (count,)).fetchall()
    now = datetime.now(UTC)
    for n, run in enumerate(runs):
        row = {
            "id": new_id(),
            "client": run["client"],
            "workflow": "inbox",
            "run_id": run["id"],
            "step": "approve",
            "key": "approve",
            "summary": f"Send {n} replies",
            "preview": [f"send reply {k}" for k in range(5)],
            "created_at": iso(now - timedelta(minutes=n)),
            "status": "pending",
        }
        store.create(row, 1)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def alternate(
    page: Callable[[], Any], queries: Callable[[], Any], trials: int
) -> tuple[float, float]:
    for _ in range(3):  # warm both
        page()
        queries()
    p, q = [], []
    for i in range(trials):
        order = [(page, p), (queries, q)] if i % 2 == 0 else [(queries, q), (page, p)]
        for fn, out in order:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return median_ms(p), median_ms(q)


def build(args: argparse.Namespace, work: Path) -> tuple[Any, list[str]]:
    from avflow import approvals
    from avflow.app import App
    from avflow.plugins import PluginManager
    from avflow.scheduler.store import ScheduleStore

    t0 = time.perf_counter()
    ids = make_workflows(work / "workflows", args.clients)
    app = App(work / "workflows", work / "home", PluginManager(autoload=False))
    ScheduleStore(app.state)
    fill_runs(work / "home" / "state.db", ids, args.runs)
    fill_approvals(app, ids, args.approvals)
    print(
        f"{len(app.project.clients)} clients, {args.runs} runs, {approvals.count_pending(app)} "
        f"pending approvals (set up in {time.perf_counter() - t0:.1f}s)"
    )
    return app, ids


def log_in(get: Callable[[str], Any], post: Callable[[str, dict[str, str]], Any]) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', get("/login").text)
    assert csrf is not None
    done = post("/login", {"token": "bench-token", "csrf": csrf.group(1)})
    assert done.status_code == 303, done.text


def over_http(asgi: Any) -> tuple[Callable[[str], Any], Callable[[], None]]:
    """GET through uvicorn on a loopback port, one keep-alive connection (as a browser)."""
    import httpx
    import uvicorn

    from avflow.dashboard.server import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    web = httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    log_in(web.get, lambda path, data: web.post(path, data=data))

    def stop() -> None:
        server.should_exit = True

    return web.get, stop


def in_process(asgi: Any) -> tuple[Callable[[str], Any], Callable[[], None]]:
    """GET through the ASGI app itself (httpx's ASGI transport, one event loop): no socket."""
    import asyncio

    import httpx

    loop = asyncio.new_event_loop()
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://127.0.0.1")

    def get(path: str) -> Any:
        return loop.run_until_complete(web.get(path))

    def post(path: str, data: dict[str, str]) -> Any:
        return loop.run_until_complete(web.post(path, data=data))

    log_in(get, post)
    return get, loop.close


def query_sets(app: Any, ids: list[str]) -> list[tuple[str, str, Callable[[], Any]]]:
    """Each page, and the SQL queries it makes, made alone through the same classes."""
    from avflow import approvals
    from avflow.dashboard import inbox, views
    from avflow.dashboard.store import DashboardStore
    from avflow.scheduler.store import ScheduleStore

    store, schedule, project = DashboardStore(app.state), ScheduleStore(app.state), app.project
    target = ids[len(ids) // 2]
    client = project.clients[target]

    def home() -> None:
        page_ids = sorted(project.clients)[: views.PAGE]
        store.last_runs(page_ids)
        store.failing(views.page_workflows(project, page_ids))
        inbox.pending_counts(app, page_ids)
        approvals.count_pending(app)
        schedule.status()

    def client_page() -> None:
        for wf in client.workflows:
            store.last_real_run(target, wf)
        schedule.load(target)
        store.run_counts(target)
        approvals.pending(app, target, limit=10)
        store.runs(target, limit=views.RUNS_PAGE + 1)

    def inbox_page() -> None:
        approvals.pending(app, None, limit=inbox.PAGE + 1, offset=0)

    return [
        ("home page", "/", home),
        ("client page", f"/clients/{target}", client_page),
        ("approvals inbox", "/approvals", inbox_page),
    ]


def measure(mode: str, get: Callable[[str], Any], sets: list[Any], trials: int) -> None:
    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            r = get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])

        return fetch

    print(f"\n{mode}\n{'page':18} {'page ms':>9} {'queries ms':>11} {'ratio':>7}   goal <= 3x")
    for name, path, queries in sets:
        page_ms, sql_ms = alternate(fetcher(path), queries, trials)
        ratio = page_ms / sql_ms
        print(
            f"{name:18} {page_ms:9.2f} {sql_ms:11.2f} {ratio:6.2f}x   "
            f"{'met' if ratio <= 3 else 'MISSED'}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--approvals", type=int, default=1000)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()

    from avflow.dashboard import views
    from avflow.dashboard.web import create_app

    work = Path(tempfile.mkdtemp(prefix="avflow-dash-"))
    try:
        app, ids = build(args, work)
        sets = query_sets(app, ids)
        asgi = create_app(views.AppSource(app), "bench-token")
        for mode, open_client in (
            ("through the ASGI app in this process (no socket)", in_process),
            ("over HTTP: uvicorn on 127.0.0.1, one keep-alive connection", over_http),
        ):
            get, stop = open_client(asgi)
            measure(mode, get, sets, args.trials)
            stop()
        print(f"\nload average while measuring: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
