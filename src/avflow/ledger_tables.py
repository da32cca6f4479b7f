"""The effect ledger's tables in ``state.db`` and their migrations: used by `avflow.ledger` only.

Layout 1 (before the scope column) kept a key's scope as a prefix of the key, so a client-scoped
``inbox#2`` and workflow ``inbox``'s workflow-scoped key ``2`` were one row. Layout 2 stores the
scope and its id as columns; `ensure_schema` moves layout-1 rows over once, in one transaction.
See docs/architecture.md.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    client TEXT NOT NULL,
    scope TEXT NOT NULL,        -- run | workflow | client
    scope_id TEXT NOT NULL,     -- the run's key | the workflow id | ''
    key TEXT NOT NULL,          -- as the plugin gave it
    run_id TEXT NOT NULL,       -- the run that last tried it
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,       -- pending | done | failed | unknown
    result TEXT,
    error TEXT,
    owner INTEGER,              -- pid of the process performing it, while pending
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    owner_mark TEXT,            -- that process's boot and start time (`process_mark`)
    PRIMARY KEY (client, scope, scope_id, key)
);
CREATE INDEX IF NOT EXISTS effects_of_run ON effects (run_id);
CREATE TABLE IF NOT EXISTS dry_effects (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""

# Claiming an effect's row as pending (its intent); a failed or new row only (the caller checks).
CLAIM = """INSERT INTO effects (client, scope, scope_id, key, run_id, step, kind, description,
             status, result, error, owner, owner_mark, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?, ?, ?)
           ON CONFLICT (client, scope, scope_id, key) DO UPDATE SET status = 'pending',
             run_id = excluded.run_id, step = excluded.step, error = NULL,
             owner = excluded.owner, owner_mark = excluded.owner_mark,
             updated_at = excluded.updated_at"""


def claim_row(eid: tuple[str, ...], site: Any, effect: Any) -> tuple[Any, ...]:
    """The parameters of `CLAIM` for effect ``eid`` requested at ``site`` by this process."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    pid = os.getpid()
    row = (site.run_id, site.step, effect.kind, effect.description, pid, process_mark(pid))
    return (*eid, *row, now, now)


def process_mark(pid: int) -> str | None:
    """What tells process ``pid`` from a later one given the same number (after a reboot, or
    once process ids wrap): the boot's id and the process's start time, from Linux's ``/proc``.
    None where they cannot be read (then a live ``pid`` is taken as the owner, as before)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        start = stat[stat.rindex(b")") + 2 :].split()[19]  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None
    return f"{boot}:{start.decode()}"


def ensure_schema(db: Any) -> None:
    """Create the tables; move rows of the first layout (scope as a key prefix) to the columns."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(effects)")}
    if columns and "scope" not in columns:
        db.execute("DROP INDEX IF EXISTS effects_by_run")
        db.execute("ALTER TABLE effects RENAME TO effects_v1")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    if columns and "scope" not in columns:
        _migrate_v1(db)
        db.execute("DROP TABLE effects_v1")
    elif columns and "owner_mark" not in columns:  # layout 2 before the owner's mark
        db.execute("ALTER TABLE effects ADD COLUMN owner_mark TEXT")


def _migrate_v1(db: Any) -> None:
    """A v1 key was ``<run key>#key``, ``<workflow>#key`` or ``key``: the run that wrote it tells
    which. A v1 ``failed`` was any exception, so it becomes ``unknown`` (reconciled, not repeated)."""
    rows = db.execute(
        """SELECT e.*, r.key AS run_key, r.workflow AS workflow FROM effects_v1 e
           LEFT JOIN runs r ON r.id = e.run_id"""
    ).fetchall()
    for r in rows:
        scope, scope_id, key = "client", "", r["key"]
        for name, prefix in (("run", r["run_key"]), ("workflow", r["workflow"])):
            if prefix and key.startswith(prefix + "#"):
                scope, scope_id, key = name, prefix, key[len(prefix) + 1 :]
                break
        status = {"failed": "unknown"}.get(r["status"], r["status"])
        db.execute(
            """INSERT OR IGNORE INTO effects (client, scope, scope_id, key, run_id, step, kind,
                 description, status, result, error, owner, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)""",
            (
                r["client"],
                scope,
                scope_id,
                key,
                r["run_id"],
                r["step"],
                r["kind"],
                r["description"],
                status,
                r["result"],
                r["created_at"],
                r["updated_at"],
            ),
        )
