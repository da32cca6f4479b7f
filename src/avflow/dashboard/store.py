"""The dashboard's read queries on ``state.db``: runs, steps and health, always for named clients.

A storage seam like `avflow.state.State` (docs/architecture.md): the only SQL of the dashboard.
Every method takes the client(s) it reads, so a page can never list another client's rows, and
every list is a page (``limit``/``offset``), never a whole table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from avflow.state import State

RUN_COLUMNS = (
    "id, key, client, workflow, scheduled_at, trigger, dry_run, status, error, "
    "created_at, started_at, finished_at"
)
RUN_NAMES = tuple(RUN_COLUMNS.split(", "))  # the values of `DashboardStore.runs`' rows, in order
# the statements, named so that bench/dashboard.py can time them alone
LAST_RUNS_SQL = f"""SELECT {", ".join("r." + c for c in RUN_COLUMNS.split(", "))}
    FROM json_each(?) AS c JOIN runs AS r ON r.id = (
      SELECT id FROM runs WHERE client = c.value ORDER BY created_at DESC LIMIT 1)"""
FAILING_SQL = """WITH w (client, workflow) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?))
    SELECT client, workflow,
      (SELECT status FROM runs AS r WHERE r.client = w.client
         AND r.workflow = w.workflow AND dry_run = 0 AND status != 'skipped'
       ORDER BY created_at DESC LIMIT 1) AS status
    FROM w"""
LAST_REAL_RUN_SQL = """SELECT status, scheduled_at, created_at, finished_at, error FROM runs
    WHERE client = ? AND workflow = ? AND dry_run = 0 AND status != 'skipped'
    ORDER BY created_at DESC LIMIT 1"""
RUNS_SQL = f"SELECT {RUN_COLUMNS} FROM runs WHERE client = ?"  # then filters, then RUNS_ORDER
RUNS_ORDER = " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
RUN_COUNTS_SQL = "SELECT status, COUNT(*) AS n FROM runs WHERE client = ? GROUP BY status"


class DashboardStore:
    """Read-only queries of the dashboard, through the shared `State` (one connection a thread)."""

    def __init__(self, state: State) -> None:
        self.state = state

    @property
    def db(self) -> sqlite3.Connection:
        return self.state.db

    def last_runs(self, clients: Sequence[str]) -> dict[str, sqlite3.Row]:
        """Each listed client's newest run (one query for the whole page of clients)."""
        if not clients:
            return {}
        rows = self.db.execute(LAST_RUNS_SQL, (json.dumps(list(clients)),)).fetchall()
        return {r["client"]: r for r in rows}

    def failing(self, workflows: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
        """client -> those of the listed (client, workflow) pairs whose last real run (not dry,
        not skipped) failed: one index look-up per workflow, in one query."""
        if not workflows:
            return {}
        rows = self.db.execute(FAILING_SQL, (json.dumps([list(w) for w in workflows]),)).fetchall()
        out: dict[str, list[str]] = {}
        for r in rows:
            if r["status"] == "failed":
                out.setdefault(r["client"], []).append(r["workflow"])
        return out

    def last_real_run(self, client: str, workflow: str) -> sqlite3.Row | None:
        """A workflow's last run that counts for its health (as ``avflow status`` reads it)."""
        return self.db.execute(LAST_REAL_RUN_SQL, (client, workflow)).fetchone()

    def runs(
        self,
        client: str,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[tuple[Any, ...]]:
        """One page of a client's runs, newest first (``limit + 1`` rows tell of a next page), as
        plain tuples of `RUN_NAMES` (no `sqlite3.Row` made for each: the page keeps its lines by
        their rows, `views.RunLines`)."""
        sql, args = RUNS_SQL, [client]
        if workflow:
            sql += " AND workflow = ?"
            args.append(workflow)
        if status:
            sql += " AND status = ?"
            args.append(status)
        cursor = self.db.execute(sql + RUNS_ORDER, (*args, limit, offset))
        cursor.row_factory = None  # applied as rows are fetched, not when executed
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def run(self, client: str, run_id: str) -> sqlite3.Row | None:
        """A run of ``client`` (None when the id is unknown or another client's)."""
        return self.db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ? AND client = ?", (run_id, client)
        ).fetchone()

    def steps(self, run_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            """SELECT step, position, status, error, attempts, started_at, finished_at
               FROM steps WHERE run_id = ? ORDER BY position""",
            (run_id,),
        ).fetchall()

    def run_counts(self, client: str) -> dict[str, int]:
        """How many runs ``client`` has, by status."""
        rows = self.db.execute(RUN_COUNTS_SQL, (client,)).fetchall()
        return {r["status"]: int(r["n"]) for r in rows}
