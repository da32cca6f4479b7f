"""The approvals table in ``state.db``: the only SQL about approvals (docs/approvals.md).

One row per approval a run asked for, keyed by an id the AV types (``avflow approve ID``) and
unique per ``(run, step, key)`` so that a step run again finds its own approval instead of asking
twice. Times are UTC ISO strings with microseconds, so that they compare as text. Every list is
paginated and served by an index. Two flags make the trail and the resumption exactly-once:

- ``audited``: 0 nothing recorded yet, 1 the request is in the client's audit trail, 2 the
  decision too (a process killed between the commit and the record is caught up later);
- ``resumed``: 1 once a process has claimed the decided approval to hand its run back to the
  engine (a conditional update, so only one process ever does).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from avflow.state import State

SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    workflow TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    summary TEXT NOT NULL,
    preview TEXT NOT NULL,          -- JSON list of strings
    created_at TEXT NOT NULL,
    deadline TEXT,                  -- UTC, NULL: no timeout
    on_timeout TEXT,                -- approve | reject | NULL (stays pending)
    timeout TEXT,                   -- the timeout as written, for the record
    status TEXT NOT NULL,           -- pending | approved | rejected | expired
    decided_by TEXT,
    decided_at TEXT,
    reason TEXT,
    audited INTEGER NOT NULL DEFAULT 0,
    resumed INTEGER NOT NULL DEFAULT 0,
    notified INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, step, key)
);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (status, created_at);
CREATE INDEX IF NOT EXISTS approvals_pending_by_client ON approvals (status, client, created_at);
CREATE INDEX IF NOT EXISTS approvals_deadline ON approvals (status, deadline);
CREATE INDEX IF NOT EXISTS approvals_to_resume ON approvals (decided_at)
    WHERE resumed = 0 AND status != 'pending';
CREATE INDEX IF NOT EXISTS approvals_to_audit ON approvals (created_at) WHERE audited < 2;
"""

# the columns of a listed approval, in the order `avflow.approvals.from_values` takes them (a page
# of approvals is read by position, not by name: cheaper for every card of the inbox)
FIELDS = (
    "id",
    "client",
    "workflow",
    "run_id",
    "step",
    "summary",
    "preview",
    "created_at",
    "deadline",
    "on_timeout",
    "status",
    "decided_by",
    "decided_at",
    "reason",
)
# the statements of the pages' reads, named so that bench/dashboard.py times them alone
_LISTED = f"SELECT {', '.join(FIELDS)} FROM approvals WHERE status = 'pending'"
PENDING_SQL = _LISTED + " ORDER BY created_at LIMIT ? OFFSET ?"
PENDING_OF_CLIENT_SQL = _LISTED + " AND client = ? ORDER BY created_at LIMIT ? OFFSET ?"
COUNT_PENDING_SQL = "SELECT COUNT(*) FROM approvals WHERE status = 'pending'"
COUNT_PENDING_OF_CLIENT_SQL = COUNT_PENDING_SQL + " AND client = ?"
PENDING_BY_CLIENT_SQL = (
    "SELECT client, COUNT(*) FROM approvals WHERE status = 'pending' GROUP BY client"
)

_READY: set[str] = set()  # databases whose schema this process has already ensured


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def ensure_schema(state: State) -> None:
    """Create the table and its indexes (layout 1; later layouts migrate from here)."""
    where = str(state.path)
    if where in _READY:
        return
    with state.tx() as db:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
    _READY.add(where)


class ApprovalStore:
    """Reads and writes the approvals table through the shared `State`."""

    def __init__(self, state: State) -> None:
        self.state = state
        ensure_schema(state)

    # -- reading ----------------------------------------------------------------------------------
    def by_id(self, approval_id: str) -> sqlite3.Row | None:
        return self.state.db.execute(
            "SELECT * FROM approvals WHERE id = ?", (approval_id,)
        ).fetchone()

    def for_step(self, run_id: str, step: str, key: str) -> sqlite3.Row | None:
        return self.state.db.execute(
            "SELECT * FROM approvals WHERE run_id = ? AND step = ? AND key = ?",
            (run_id, step, key),
        ).fetchone()

    def pending(self, client: str | None, limit: int, offset: int) -> list[sqlite3.Row]:
        """Pending approvals, oldest first, one page: the columns `FIELDS`, in that order."""
        if client is None:
            return self.state.db.execute(PENDING_SQL, (limit, offset)).fetchall()
        return self.state.db.execute(PENDING_OF_CLIENT_SQL, (client, limit, offset)).fetchall()

    def pending_values(self, client: str | None, limit: int, offset: int) -> list[tuple[Any, ...]]:
        """`pending`'s page as plain tuples of `FIELDS` (no `sqlite3.Row` made for each: a page
        that keeps its lines by their rows hashes the tuples as they come)."""
        if client is None:
            cursor = self.state.db.execute(PENDING_SQL, (limit, offset))
        else:
            cursor = self.state.db.execute(PENDING_OF_CLIENT_SQL, (client, limit, offset))
        cursor.row_factory = None  # applied as rows are fetched, not when executed
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def count_pending(self, client: str | None) -> int:
        if client is None:
            row = self.state.db.execute(COUNT_PENDING_SQL)
        else:
            row = self.state.db.execute(COUNT_PENDING_OF_CLIENT_SQL, (client,))
        return int(row.fetchone()[0])

    def pending_by_client(self) -> dict[str, int]:
        """Client -> how many approvals wait (clients with none are left out): one indexed query."""
        return {r[0]: int(r[1]) for r in self.state.db.execute(PENDING_BY_CLIENT_SQL)}

    def overdue(self, now: datetime, limit: int = 100) -> list[sqlite3.Row]:
        """Pending approvals whose deadline has passed (expired, or to notify the AV about)."""
        return self.state.db.execute(
            """SELECT * FROM approvals WHERE status = 'pending' AND deadline IS NOT NULL
               AND deadline <= ? AND (on_timeout IS NOT NULL OR notified = 0)
               ORDER BY deadline LIMIT ?""",
            (iso(now), limit),
        ).fetchall()

    def next_deadline(self) -> datetime | None:
        row = self.state.db.execute(
            """SELECT MIN(deadline) FROM approvals WHERE status = 'pending'
               AND deadline IS NOT NULL AND (on_timeout IS NOT NULL OR notified = 0)"""
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def to_resume(self, limit: int = 100) -> list[sqlite3.Row]:
        """Decided approvals whose run nobody has claimed yet."""
        return self.state.db.execute(
            """SELECT * FROM approvals WHERE resumed = 0 AND status != 'pending'
               ORDER BY decided_at LIMIT ?""",
            (limit,),
        ).fetchall()

    def unaudited(self, before: datetime, limit: int = 100) -> list[sqlite3.Row]:
        """Rows whose request or decision may be missing from the trail (older than ``before``)."""
        return self.state.db.execute(
            """SELECT * FROM approvals WHERE audited < 2
               AND (audited = 0 OR status != 'pending')
               AND COALESCE(decided_at, created_at) <= ? ORDER BY created_at LIMIT ?""",
            (iso(before), limit),
        ).fetchall()

    def data_version(self) -> int:
        """Changes when another connection commits (cheap: reads no table)."""
        return int(self.state.db.execute("PRAGMA data_version").fetchone()[0])

    # -- writing ----------------------------------------------------------------------------------
    def create(self, row: dict[str, Any], run_step_position: int) -> bool:
        """Insert the approval, and mark its step and run ``waiting``, in one transaction.

        False if the step already has an approval under that key (nothing is changed then).
        """
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        values = [json.dumps(v) if k == "preview" else v for k, v in row.items()]
        with self.state.tx() as db:
            exists = db.execute(
                "SELECT 1 FROM approvals WHERE run_id = ? AND step = ? AND key = ?",
                (row["run_id"], row["step"], row["key"]),
            ).fetchone()
            if exists:
                return False
            db.execute(f"INSERT INTO approvals ({cols}) VALUES ({marks})", values)
            self._wait(db, row["run_id"], row["step"], run_step_position)
        return True

    def wait_again(self, run_id: str, step: str, position: int) -> None:
        """The step found its approval still pending: step and run go back to ``waiting``."""
        with self.state.tx() as db:
            self._wait(db, run_id, step, position)

    @staticmethod
    def _wait(db: sqlite3.Connection, run_id: str, step: str, position: int) -> None:
        db.execute(
            """INSERT INTO steps (run_id, step, position, status, outputs, attempts, started_at)
               VALUES (?, ?, ?, 'waiting', '{}', 1, ?)
               ON CONFLICT (run_id, step) DO UPDATE SET status = 'waiting', finished_at = NULL""",
            (run_id, step, position, iso(datetime.now(UTC))),
        )
        db.execute("UPDATE runs SET status = 'waiting' WHERE id = ?", (run_id,))

    def decide(
        self, approval_id: str, status: str, by: str, at: datetime, reason: str | None
    ) -> bool:
        """Record a decision if the approval is still pending; False if it is not."""
        with self.state.tx() as db:
            cur = db.execute(
                """UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, reason = ?
                   WHERE id = ? AND status = 'pending'""",
                (status, by, iso(at), reason, approval_id),
            )
            return cur.rowcount == 1

    def set_audited(self, approval_id: str, level: int) -> None:
        with self.state.tx() as db:
            db.execute(
                "UPDATE approvals SET audited = MAX(audited, ?) WHERE id = ?", (level, approval_id)
            )

    def set_notified(self, ids: Iterable[str]) -> None:
        with self.state.tx() as db:
            db.executemany("UPDATE approvals SET notified = 1 WHERE id = ?", [(i,) for i in ids])

    def claim(self, approval_id: str) -> bool:
        """Take the decided approval's run back from ``waiting`` to ``running``: exactly one
        caller, across processes, gets True (none does if the run is no longer waiting)."""
        with self.state.tx() as db:
            cur = db.execute(
                """UPDATE approvals SET resumed = 1
                   WHERE id = ? AND resumed = 0 AND status != 'pending'""",
                (approval_id,),
            )
            if cur.rowcount != 1:
                return False
            row = db.execute("SELECT run_id FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            moved = db.execute(
                "UPDATE runs SET status = 'running' WHERE id = ? AND status = 'waiting'",
                (row["run_id"],),
            )
        return moved.rowcount == 1  # a run no longer waiting has nothing to take up
