"""``$AVFLOW_HOME/state.db``: runs, step results and plugin cursors (docs/architecture.md).

SQLite in WAL mode with a busy timeout, one connection per thread; writes are committed before
the code moves on, fsynced (synchronous=FULL) unless a later fsynced commit covers them
(docs/architecture.md, "Durability"). The effect ledger's tables live in the same file but
belong to `avflow.ledger`, which alone reads and writes them through `State.tx`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avflow import redact
from avflow.errors import UsageError
from avflow.fsutil import FileLock, private_dir, private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    client TEXT NOT NULL,
    workflow TEXT NOT NULL,
    scheduled_at TEXT,
    trigger TEXT NOT NULL,
    event TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs (client, workflow, created_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_client ON runs (client, created_at);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id),
    step TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    outputs TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS cursors (
    client TEXT NOT NULL,
    workflow TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (client, workflow, plugin, key)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class State:
    """The state database. Safe to share between threads: each thread gets its own connection."""

    _memory: sqlite3.Connection | None = None  # `State.empty`'s one connection

    @classmethod
    def empty(cls, path: Path) -> State:
        """An empty state database in memory, named ``path``: what a command that only reads
        answers from when the home folder has no ``state.db`` (it creates nothing on disk)."""
        self = cls.__new__(cls)
        self.path = path
        self._local = threading.local()
        self._memory = sqlite3.connect(
            ":memory:",
            isolation_level=None,
            check_same_thread=False,
            factory=redact.RedactingConnection,
        )
        self._memory.row_factory = sqlite3.Row
        self._memory.executescript(SCHEMA)
        return self

    def __init__(self, path: Path) -> None:
        self.path = path
        # Two processes creating the database at once can deadlock in SQLite's switch to WAL
        # (one holds a read lock it wants to upgrade, the other a pending write lock); SQLite then
        # answers "database is locked" at once instead of waiting. Creating it one at a time
        # avoids that: once the file is in WAL mode, opening it takes no such lock.
        init = FileLock(path.with_name(path.name + ".init"))
        try:
            private_dir(path.parent)
            init.acquire(blocking=True)
        except OSError as exc:  # --home names a file, a link to nowhere, a folder we may not write
            gone = path.parent.is_symlink() and not path.parent.exists()
            what = "a symbolic link to nowhere" if gone else None
            if what is None and path.parent.exists() and not path.parent.is_dir():
                what = "not a folder"
            raise UsageError(
                f"cannot use {path.parent} as the home folder: {what or exc.strerror or exc}"
            ) from None
        self._local = threading.local()
        try:  # the lock acquired above
            private_file(path)  # 0600 before SQLite opens it: its -wal and -shm take its mode
            try:
                self.db.executescript(SCHEMA)
            except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
                self.close()
                raise UsageError(
                    f"{path}: the state database cannot be read ({exc}); nothing was changed: "
                    "restore it from your backup of the home folder"
                ) from None
        finally:
            init.release()

    @property
    def db(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(  # every text written or looked up is redacted first
                self.path,
                timeout=30,
                isolation_level=None,
                check_same_thread=False,
                factory=redact.RedactingConnection,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken immediately so concurrent writers queue instead of failing.

        ``durable=False`` skips the fsync at commit (``synchronous=NORMAL`` in WAL mode): the
        commit survives the process being killed, and may be lost only with the machine (power
        loss). Used for an effect's outcome, whose fsynced intent already makes a lost outcome
        safe: the effect is reconciled, not repeated blindly.
        """
        db = self.db
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if not durable:
                db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs -------------------------------------------------------------------------------------
    def run_by_key(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM runs WHERE key = ?", (key,)).fetchone()

    def run_by_id(self, run_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()

    def unfinished_runs(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM runs WHERE status IN ('pending', 'running') ORDER BY created_at"
        ).fetchall()

    def recent_runs(
        self, client: str | None = None, workflow: str | None = None, limit: int = 20
    ) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if client:
            sql += " AND client = ?"
            args.append(client)
        if workflow:
            sql += " AND workflow = ?"
            args.append(workflow)
        sql += " ORDER BY created_at DESC LIMIT ?"
        return self.db.execute(sql, (*args, limit)).fetchall()

    def last_counted_run(self, client: str, workflow: str) -> sqlite3.Row | None:
        """A workflow's last run that counts for its health (not dry, not skipped), or None."""
        return self.db.execute(
            """SELECT status, scheduled_at, created_at, finished_at, error FROM runs
               WHERE client = ? AND workflow = ? AND dry_run = 0 AND status != 'skipped'
               ORDER BY created_at DESC LIMIT 1""",
            (client, workflow),
        ).fetchone()

    def create_run(
        self,
        run_id: str,
        key: str,
        client: str,
        workflow: str,
        *,
        scheduled_at: str | None,
        trigger: str,
        event: str | None,
        dry_run: bool,
    ) -> None:
        """A new run's row, ``pending``. Not fsynced: nothing leaves the machine before a later
        commit that is (an effect's intent, or the run's end) covers it too (docs/architecture.md,
        "Durability")."""
        with self.tx(durable=False) as db:
            db.execute(
                """INSERT INTO runs (id, key, client, workflow, scheduled_at, trigger, event,
                     dry_run, status, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (
                    run_id,
                    key,
                    client,
                    workflow,
                    scheduled_at,
                    trigger,
                    event,
                    int(dry_run),
                    utcnow_iso(),
                ),
            )

    def set_run(self, run_id: str, *, durable: bool = True, **fields: Any) -> None:
        """Update a run's row (``durable=False``: see `tx`, and "Durability" in
        docs/architecture.md for when a later commit covers it)."""
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.tx(durable) as db:
            db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def reopen_run(self, run_id: str, step: str) -> None:
        """Make a stopped run resumable from ``step`` (after the AV settled an unknown effect)."""
        with self.tx() as db:
            db.execute("DELETE FROM steps WHERE run_id = ? AND step = ?", (run_id, step))
            db.execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL WHERE id = ?",
                (run_id,),
            )

    # -- steps ------------------------------------------------------------------------------------
    def steps(self, run_id: str) -> dict[str, sqlite3.Row]:
        rows = self.db.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run_id,))
        return {r["step"]: r for r in rows}

    def save_step(
        self,
        run_id: str,
        step: str,
        position: int,
        status: str,
        *,
        outputs: Any = None,
        outputs_json: str | None = None,
        error: str | None = None,
        attempts: int = 0,
        durable: bool = True,
    ) -> None:
        """Record a step's state; ``outputs_json`` is the outputs already encoded, if at hand."""
        now = utcnow_iso()
        with self.tx(durable) as db:
            db.execute(
                """INSERT INTO steps (run_id, step, position, status, outputs, error, attempts, started_at, finished_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id, step) DO UPDATE SET status = excluded.status,
                     outputs = excluded.outputs, error = excluded.error, attempts = excluded.attempts,
                     finished_at = excluded.finished_at""",
                (
                    run_id,
                    step,
                    position,
                    status,
                    outputs_json if outputs_json is not None else json.dumps(outputs),
                    error,
                    attempts,
                    now,
                    None if status == "running" else now,
                ),
            )

    # -- cursors ----------------------------------------------------------------------------------
    def cursor_get(self, client: str, workflow: str, plugin: str, key: str) -> Any:
        row = self.db.execute(
            "SELECT value FROM cursors WHERE client=? AND workflow=? AND plugin=? AND key=?",
            (client, workflow, plugin, key),
        ).fetchone()
        return None if row is None else json.loads(row["value"])

    def cursor_set(self, client: str, workflow: str, plugin: str, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute(
                """INSERT INTO cursors (client, workflow, plugin, key, value) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (client, workflow, plugin, key) DO UPDATE SET value = excluded.value""",
                (client, workflow, plugin, key, json.dumps(value)),
            )

    def cursor_delete(self, client: str, workflow: str, plugin: str, key: str) -> None:
        with self.tx() as db:
            db.execute(
                "DELETE FROM cursors WHERE client=? AND workflow=? AND plugin=? AND key=?",
                (client, workflow, plugin, key),
            )

    # -- the audit trail's high-water marks ---------------------------------------------------------
    def set_audit_mark(self, client: str, seq: int, digest: str) -> None:
        """Remember that ``client``'s trail reached record ``seq`` (hash ``digest``): `verify`
        then fails if the trail is shorter, or was rewritten up to there. Never moves back."""
        with self.tx(durable=False) as db:
            row = db.execute(
                "SELECT value FROM meta WHERE key = ?", (f"audit:{client}",)
            ).fetchone()
            if row is None or json.loads(row["value"])["seq"] < seq:
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (f"audit:{client}", json.dumps({"seq": seq, "hash": digest})),
                )

    def audit_mark(self, client: str) -> tuple[int, str] | None:
        """The last record ``client``'s trail is known to have reached, or None."""
        row = self.db.execute(
            "SELECT value FROM meta WHERE key = ?", (f"audit:{client}",)
        ).fetchone()
        if row is None:
            return None
        mark = json.loads(row["value"])
        return int(mark["seq"]), str(mark["hash"])

    def run_count(self, client: str) -> int:
        """How many runs ``client`` has had (each one wrote audit records)."""
        return int(
            self.db.execute("SELECT COUNT(*) FROM runs WHERE client = ?", (client,)).fetchone()[0]
        )
