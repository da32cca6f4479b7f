"""Benchmark: dashboard pages beside the SQL queries they make, on a large state.db.

    .venv/bin/python bench/dashboard.py [--clients 1000] [--runs 100000] [--approvals 2000] [--trials 20]

Fills a temporary home with ``--clients`` clients (8 timezones, two workflows each, one gated
to working hours), ``--runs`` runs spread over them (about 1 in 20 failed) and ``--approvals``
pending approvals, then times three pages as a browser gets them (the dashboard served by uvicorn
on a loopback port, one logged-in keep-alive HTTP connection, warm): the home page (first page of
clients), a client page and the approvals inbox, each
beside the same queries made alone through the same classes (`DashboardStore`,
`avflow.approvals`, `ScheduleStore`). Trials alternate page and queries; the figures are medians
of ``--trials`` warm requests, and their ratio. Goal: each page at most 3x its queries.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--approvals", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()

    import httpx
    import uvicorn

    from avflow import approvals
    from avflow.app import App
    from avflow.dashboard import inbox, views
    from avflow.dashboard.server import listening_socket
    from avflow.dashboard.store import DashboardStore
    from avflow.dashboard.web import create_app
    from avflow.plugins import PluginManager
    from avflow.scheduler.store import ScheduleStore

    work = Path(tempfile.mkdtemp(prefix="avflow-dash-"))
    try:
        t0 = time.perf_counter()
        ids = make_workflows(work / "workflows", args.clients)
        app = App(work / "workflows", work / "home", PluginManager(autoload=False))
        schedule = ScheduleStore(app.state)
        fill_runs(work / "home" / "state.db", ids, args.runs)
        fill_approvals(app, ids, args.approvals)
        project = app.project
        print(
            f"{len(project.clients)} clients, {args.runs} runs, {approvals.count_pending(app)} "
            f"pending approvals (set up in {time.perf_counter() - t0:.1f}s)"
        )
        sock = listening_socket("127.0.0.1", 0)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(views.AppSource(app), "bench-token"),
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        web = httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
        login = web.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        done = web.post("/login", data={"token": "bench-token", "csrf": csrf})
        assert done.status_code == 303, done.text
        store = DashboardStore(app.state)
        target = ids[len(ids) // 2]
        client = project.clients[target]

        def home_queries() -> None:
            page_ids = sorted(project.clients)[: views.PAGE]
            store.last_runs(page_ids)
            store.failing(views.page_workflows(project, page_ids))
            inbox.pending_counts(app, page_ids)
            approvals.count_pending(app)
            schedule.status()

        def client_queries() -> None:
            for wf in client.workflows:
                store.last_real_run(target, wf)
            schedule.load(target)
            store.run_counts(target)
            approvals.pending(app, target, limit=10)
            store.runs(target, limit=views.RUNS_PAGE + 1)

        def inbox_queries() -> None:
            approvals.pending(app, None, limit=inbox.PAGE + 1, offset=0)

        def get(path: str) -> Callable[[], Any]:
            def fetch() -> None:
                r = web.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])

            return fetch

        results = []
        for name, path, queries in (
            ("home page", "/", home_queries),
            ("client page", f"/clients/{target}", client_queries),
            ("approvals inbox", "/approvals", inbox_queries),
        ):
            page_ms, sql_ms = alternate(get(path), queries, args.trials)
            results.append((name, page_ms, sql_ms))
        server.should_exit = True
        print(f"\n{'page':18} {'page ms':>9} {'queries ms':>11} {'ratio':>7}   goal <= 3x")
        for name, page_ms, sql_ms in results:
            ratio = page_ms / sql_ms
            print(
                f"{name:18} {page_ms:9.2f} {sql_ms:11.2f} {ratio:6.2f}x   "
                f"{'met' if ratio <= 3 else 'MISSED'}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
