"""The scheduler's own tables in ``state.db``: next firing of each workflow, heartbeat, notifier.

Times are stored as UTC ISO strings (``2026-03-29T01:00:00Z``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from avflow.state import State

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedule_state (
    client TEXT NOT NULL,
    workflow TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    next_at TEXT,
    first_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (client, workflow)
);
CREATE TABLE IF NOT EXISTS service_status (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_state (
    client TEXT NOT NULL,
    workflow TEXT NOT NULL,
    failing_since TEXT NOT NULL,
    notified_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client, workflow)
);
"""
# the statements of the dashboard's reads, named so that bench/dashboard.py can time them alone
LOAD_SQL = "SELECT client, workflow, fingerprint, next_at, first_seen FROM schedule_state"
LOAD_OF_CLIENT_SQL = LOAD_SQL + " WHERE client = ?"
STATUS_SQL = "SELECT key, value FROM service_status"


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (
        t.astimezone(UTC)
        .isoformat(timespec="microseconds")
        .replace(".000000", "")
        .replace("+00:00", "Z")
    )


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


class ScheduleStore:
    """Reads and writes the scheduler's tables through the shared `State`."""

    def __init__(self, state: State) -> None:
        self.state = state
        state.db.executescript(SCHEMA)

    # -- next firings -----------------------------------------------------------------------------
    def load(
        self, client: str | None = None
    ) -> dict[tuple[str, str], tuple[str, datetime | None, datetime]]:
        """(client, workflow) -> (fingerprint, next_at, first_seen); of one client if named."""
        out = {}
        rows = (
            self.state.db.execute(LOAD_OF_CLIENT_SQL, (client,))
            if client is not None
            else self.state.db.execute(LOAD_SQL)
        )
        seen: dict[str, datetime | None] = {}  # rows saved together share their times

        def parsed(s: str | None) -> datetime | None:
            if s is None:
                return None
            t = seen.get(s)
            if t is None:
                t = seen[s] = parse_iso(s)
            return t

        for c, w, fp, next_at, first_seen in rows:  # the columns of LOAD_SQL, in order
            first = parsed(first_seen)
            assert first is not None
            out[(c, w)] = (fp, parsed(next_at), first)
        return out

    def save(self, rows: Iterable[tuple[str, str, str, datetime | None]], now: datetime) -> None:
        """Upsert (client, workflow, fingerprint, next_at) rows in one transaction."""
        stamp = iso(now)
        data = [(c, w, fp, iso(n), stamp, stamp) for c, w, fp, n in rows]
        if not data:
            return
        with self.state.tx() as db:
            db.executemany(
                """INSERT INTO schedule_state (client, workflow, fingerprint, next_at, first_seen, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (client, workflow) DO UPDATE SET fingerprint = excluded.fingerprint,
                     next_at = excluded.next_at, updated_at = excluded.updated_at""",
                data,
            )

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        with self.state.tx() as db:
            db.executemany(
                "DELETE FROM schedule_state WHERE client = ? AND workflow = ?", list(keys)
            )

    # -- service status ---------------------------------------------------------------------------
    def set_status(self, **values: Any) -> None:
        with self.state.tx() as db:
            db.executemany(
                "INSERT INTO service_status (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(k, str(v)) for k, v in values.items()],
            )

    def status(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.state.db.execute(STATUS_SQL)}

    # -- notifier ---------------------------------------------------------------------------------
    def failing(self, client: str, workflow: str) -> Any:
        return self.state.db.execute(
            "SELECT * FROM notify_state WHERE client = ? AND workflow = ?", (client, workflow)
        ).fetchone()

    def mark_failing(self, client: str, workflow: str, now: datetime) -> None:
        with self.state.tx() as db:
            db.execute(
                """INSERT INTO notify_state (client, workflow, failing_since, failures) VALUES (?, ?, ?, 1)
                   ON CONFLICT (client, workflow) DO UPDATE SET failures = failures + 1""",
                (client, workflow, iso(now)),
            )

    def mark_notified(self, keys: Iterable[tuple[str, str]], now: datetime) -> None:
        with self.state.tx() as db:
            db.executemany(
                "UPDATE notify_state SET notified_at = ? WHERE client = ? AND workflow = ?",
                [(iso(now), c, w) for c, w in keys],
            )

    def clear_failing(self, client: str, workflow: str) -> bool:
        with self.state.tx() as db:
            cur = db.execute(
                "DELETE FROM notify_state WHERE client = ? AND workflow = ?", (client, workflow)
            )
            return cur.rowcount > 0
