"""The plugin's own records in its data folder: approvals (with the content hash approved) and
where each post was published. The effect ledger, not this file, is what makes a post go out
once; this is what `avflow social queue` shows and what daily limits count."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
  client TEXT NOT NULL, post TEXT NOT NULL, digest TEXT NOT NULL, at TEXT NOT NULL,
  by TEXT NOT NULL, PRIMARY KEY (client, post));
CREATE TABLE IF NOT EXISTS published (
  client TEXT NOT NULL, post TEXT NOT NULL, channel TEXT NOT NULL, revision INTEGER NOT NULL,
  remote_id TEXT NOT NULL, url TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (client, post, channel, revision));
CREATE TABLE IF NOT EXISTS refused (
  client TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (client, key));
"""


class Store:
    """``social.db`` in the plugin's data folder."""

    def __init__(self, data_dir: Path, *, create: bool = True) -> None:
        path = data_dir / "social.db"
        if not create and not path.exists():  # a reader with nothing recorded yet
            self.db = sqlite3.connect(":memory:", isolation_level=None)
            self.db.executescript(SCHEMA)
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < 1:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA + "PRAGMA user_version = 1;")
        self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.db.close()

    def approvals(self, client: str) -> dict[str, str]:
        rows = self.db.execute("SELECT post, digest FROM approvals WHERE client = ?", (client,))
        return dict(rows.fetchall())

    def approve(self, client: str, post: str, digest: str, at: datetime, by: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
            (client, post, digest, at.isoformat(), by),
        )

    def approve_many(
        self, client: str, items: list[tuple[str, str]], at: datetime, by: str
    ) -> None:
        if items:
            self.db.executemany(
                "INSERT OR IGNORE INTO approvals VALUES (?, ?, ?, ?, ?)",
                [(client, post, digest, at.isoformat(), by) for post, digest in items],
            )

    def published(self, client: str) -> dict[tuple[str, str, int], tuple[str, str, str]]:
        rows = self.db.execute(
            "SELECT post, channel, revision, remote_id, url, at FROM published WHERE client = ?",
            (client,),
        )
        return {(p, c, r): (i, u, a) for p, c, r, i, u, a in rows.fetchall()}

    def record(
        self,
        client: str,
        post: str,
        channel: str,
        revision: int,
        remote_id: str,
        url: str,
        at: datetime,
    ) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO published VALUES (?, ?, ?, ?, ?, ?, ?)",
            (client, post, channel, revision, remote_id, url, at.isoformat()),
        )

    def count_since(self, client: str, channel: str, since: datetime) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM published WHERE client = ? AND channel = ? AND at >= ?",
            (client, channel, since.isoformat()),
        ).fetchone()
        return int(row[0])

    # A post the network certainly refused (429, a validation error): when its effect is met
    # again, it is sent again without asking the network (the flag is cleared by each attempt).
    def refused(self, client: str, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM refused WHERE client = ? AND key = ?", (client, key))
        return row.fetchone() is not None

    def set_refused(self, client: str, key: str, refused: bool) -> None:
        if refused:
            self.db.execute("INSERT OR IGNORE INTO refused VALUES (?, ?)", (client, key))
        else:
            self.db.execute("DELETE FROM refused WHERE client = ? AND key = ?", (client, key))
