"""The plugin's own records in its data folder: approvals (with the content hash approved) and
where each post was published. The effect ledger, not this file, is what makes a post go out
once; this is what `avflow social queue` shows and what daily limits count."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

FLUSH_EVERY = 100  # published rows committed at once (see `Store`)

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
    """``social.db`` in the plugin's data folder.

    `close` keeps the connection for the next `Store` of this process on the same file (one
    idle connection per file): opening costs little, but closing the last connection to a WAL
    database checkpoints it, two syncs that every publishing pass and every ``queue`` paid.
    Nothing is kept open in a transaction. Each write is committed when it is made, except
    `record`: published posts are committed ``FLUSH_EVERY`` at a time and when the store is
    closed (one commit, not one per post). The ledger, not this file, is what makes a post go
    out once: a row lost with the process is written again by the next pass, from the ledger's
    stored result, before any new post goes out on that channel.
    """

    def __init__(self, data_dir: Path, *, create: bool = True) -> None:
        path = data_dir / "social.db"
        self._key: tuple[str, int, int, int] | None = None
        self._pending: list[tuple[str, str, str, int, str, str, str]] = []  # `record`, not flushed
        if not create and not path.exists():  # a reader with nothing recorded yet
            self.db = _empty()
            return
        pooled = _take(path)
        if pooled is not None:
            self.db, self._key = pooled
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < 1:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA + "PRAGMA user_version = 1;")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._key = _identity(path)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._release()

    def _release(self) -> None:
        db, key, self._key = self.db, self._key, None
        if db is getattr(_local, "empty", None):
            return
        if key is None or db.in_transaction or not _give(key, db):
            db.close()

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
        if items:  # one transaction (executemany alone would commit each row)
            with self._tx():
                self.db.executemany(
                    "INSERT OR IGNORE INTO approvals VALUES (?, ?, ?, ?, ?)",
                    [(client, post, digest, at.isoformat(), by) for post, digest in items],
                )

    def published(self, client: str) -> dict[tuple[str, str, int], tuple[str, str, str]]:
        self.flush()
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
        """Where a post went out: committed with the next `flush` (`FLUSH_EVERY` rows, `close`)."""
        self._pending.append((client, post, channel, revision, remote_id, url, at.isoformat()))
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            with self._tx():
                self.db.executemany(
                    "INSERT OR IGNORE INTO published VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )

    def count_since(self, client: str, channel: str, since: datetime) -> int:
        """Posts published on ``channel`` since ``since``, those not flushed yet included."""
        at = since.isoformat()
        row = self.db.execute(
            "SELECT COUNT(*) FROM published WHERE client = ? AND channel = ? AND at >= ?",
            (client, channel, at),
        ).fetchone()
        waiting = sum(1 for r in self._pending if r[0] == client and r[2] == channel and r[6] >= at)
        return int(row[0]) + waiting

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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


# -- one idle connection per file, for the next pass of this process ---------------------------
_local = threading.local()


def _empty() -> sqlite3.Connection:
    """This thread's empty, read-only database: what a reader sees before anything is recorded."""
    db: sqlite3.Connection | None = getattr(_local, "empty", None)
    if db is None:
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(SCHEMA + "PRAGMA query_only = ON;")
        _local.empty = db
    return db


_idle: dict[tuple[str, int, int], tuple[sqlite3.Connection, int]] = {}
_guard = threading.Lock()


def _identity(path: Path) -> tuple[str, int, int, int] | None:
    """The file as opened: its path, device and inode (a file replaced since is not reused),
    and this process (a connection never crosses a fork)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(path), st.st_dev, st.st_ino, os.getpid()


def _take(path: Path) -> tuple[sqlite3.Connection, tuple[str, int, int, int]] | None:
    key = _identity(path)
    if key is None:
        return None
    with _guard:
        found = _idle.pop(key[:3], None)
    if found is None:
        return None
    db, pid = found
    if pid != key[3]:  # made before a fork: the parent's, never used or closed here
        return None
    return db, key


def _give(key: tuple[str, int, int, int], db: sqlite3.Connection) -> bool:
    """Keep ``db`` for the next `Store` on this file; False when one is kept already."""
    if _identity(Path(key[0])) != key:
        return False
    with _guard:
        if key[:3] in _idle:
            return False
        _idle[key[:3]] = (db, key[3])
    return True
