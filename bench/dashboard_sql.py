"""The strict baseline of bench/dashboard.py: each page's SQL statements run alone.

Loaded by path by bench/dashboard.py (not run by itself). For each page, the statements its
store classes execute (`avflow.dashboard.store`, `avflow.approval_store`,
`avflow.scheduler.store`: their module constants, the very strings the classes pass to SQLite),
with the parameters the page passes, each as ``execute`` then ``fetchall`` on the process's
`State` connection (the kind every page reads through: one connection a thread, rows as
``sqlite3.Row``), and nothing else: no conversion into avflow objects (no `Approval`, no parsed
times, no dicts), and the parameters (the page's client ids as JSON, ...) made once beforehand,
not in each trial. What the issue's "the same SQL queries run alone" names literally; the
classes' baseline (`query_sets` in bench/dashboard.py) adds what the classes do with the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def sql_sets(app: Any, ids: list[str]) -> dict[str, Callable[[], None]]:
    """Page name -> its statements, executed and fetched alone (see the module's docstring)."""
    from avflow import approval_store as approvals_sql
    from avflow.dashboard import inbox, views
    from avflow.dashboard import store as runs_sql
    from avflow.scheduler import store as schedule_sql

    db, project = app.state.db, app.project
    page_ids = sorted(project.clients)[: views.PAGE]
    target = ids[len(ids) // 2]
    home_statements: list[tuple[str, tuple[Any, ...]]] = [
        (runs_sql.LAST_RUNS_SQL, (json.dumps(page_ids),)),
        (
            runs_sql.FAILING_SQL,
            (json.dumps([list(w) for w in views.page_workflows(project, page_ids)]),),
        ),
        (approvals_sql.PENDING_BY_CLIENT_SQL, ()),  # the page's pending counts, of its clients
        (approvals_sql.COUNT_PENDING_SQL, ()),  # the inbox's count in the menu
        (schedule_sql.STATUS_SQL, ()),
    ]
    client_statements: list[tuple[str, tuple[Any, ...]]] = [
        *((runs_sql.LAST_REAL_RUN_SQL, (target, wf)) for wf in project.clients[target].workflows),
        (schedule_sql.LOAD_OF_CLIENT_SQL, (target,)),
        (runs_sql.RUN_COUNTS_SQL, (target,)),
        (approvals_sql.PENDING_OF_CLIENT_SQL, (target, 10, 0)),
        (runs_sql.RUNS_SQL + runs_sql.RUNS_ORDER, (target, views.RUNS_PAGE + 1, 0)),
    ]
    inbox_statements: list[tuple[str, tuple[Any, ...]]] = [
        (approvals_sql.PENDING_SQL, (inbox.PAGE + 1, 0)),
    ]

    def alone(statements: list[tuple[str, tuple[Any, ...]]]) -> Callable[[], None]:
        def run() -> None:
            for sql, params in statements:
                db.execute(sql, params).fetchall()

        return run

    return {
        "home page": alone(home_statements),
        "client page": alone(client_statements),
        "approvals inbox": alone(inbox_statements),
    }
