"""The archive index: every filed document, searchable (SQLite FTS5).

It lives in the plugin's own data folder, ``$AVFLOW_HOME/plugins/archive/index.db``: avflow's
public API gives a plugin its own folder and no access to the core's ``state.db``, and the
index is the plugin's to rebuild or migrate. One row per document per archive account; a
duplicate (identical content filed again) is a row of its own table pointing at the original.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import avflow
from avflow_archive.sanitize import decode_name

_SURROGATES = re.compile("[\ud800-\udfff]")

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    client TEXT NOT NULL,
    account TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    date TEXT,
    filed_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,          -- filed | quarantined
    reason TEXT,
    retain_until TEXT,
    UNIQUE (client, account, path)
);
CREATE INDEX IF NOT EXISTS documents_by_hash ON documents (client, account, sha256);
CREATE INDEX IF NOT EXISTS documents_by_date ON documents (client, filed_at);
CREATE TABLE IF NOT EXISTS duplicates (
    client TEXT NOT NULL,
    account TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,            -- the document already filed
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    date TEXT,
    seen_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    UNIQUE (client, account, sha256, source, name, run_id)
);
CREATE TABLE IF NOT EXISTS drop_seen (  -- drop files settling: first seen with this signature
    folder BLOB NOT NULL,
    path BLOB NOT NULL,
    signature TEXT NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (folder, path)
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    name, path, sender, subject, text, tokenize = 'unicode61 remove_diacritics 2'
);
"""


_INSERT = """INSERT INTO documents (id, client, account, path, sha256, size, type, name, source,
    sender, subject, date, filed_at, run_id, status, reason, retain_until)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_FTS = """INSERT INTO documents_fts (rowid, name, path, sender, subject, text)
    VALUES (?, ?, ?, ?, ?, ?)"""


def _row(d: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """A document's row of ``documents`` (without its id) and its text, from `record`'s
    arguments: names and paths read from disk or mail may hold undecodable bytes (lone
    surrogates), shown as `decode_name` does."""
    text = d.get("text", "")
    if not text.isascii() and _SURROGATES.search(text):  # most text is ASCII: no scan needed
        text = text.encode("utf-8", "replace").decode("utf-8")
    row = (
        d["client"],
        d["account"],
        decode_name(d["path"]),
        d["sha256"],
        d["size"],
        d["type"],
        decode_name(d["name"]),
        decode_name(d["source"]),
        decode_name(d["sender"]),
        decode_name(d["subject"]),
        d["date"],
        d["filed_at"],
        d["run_id"],
        d["status"],
        d.get("reason"),
        d.get("retain_until"),
    )
    return row, text


@dataclass(frozen=True)
class Document:
    """An index row, as the CLI and the filing step read it."""

    client: str
    account: str
    path: str
    sha256: str
    size: int
    type: str
    name: str
    source: str
    sender: str
    subject: str
    date: str | None
    filed_at: str
    status: str
    reason: str | None
    retain_until: str | None
    snippet: str = ""
    run_id: str = ""  # the run that filed it


_COLUMNS = [f.name for f in fields(Document) if f.name != "snippet"]


def _doc(row: sqlite3.Row, snippet: str = "") -> Document:
    return Document(**{name: row[name] for name in _COLUMNS}, snippet=snippet)


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: every word must appear; ``word*`` is a prefix."""
    terms = []
    for m in re.finditer(r"(\w+)(\*?)", text, re.UNICODE):
        terms.append('"' + m.group(1).replace('"', "") + '"' + m.group(2))
    return " AND ".join(terms)


class ArchiveIndex:
    """``index.db`` in the plugin's data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        avflow.private_file(path)  # 0600 whatever the umask; SQLite's -wal and -shm follow it
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; inside `batch`, a savepoint of the batch's one transaction."""
        if self.db.in_transaction:
            self.db.execute("SAVEPOINT one")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK TO one")
                self.db.execute("RELEASE one")
                raise
            self.db.execute("RELEASE one")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction (one commit for a batch of documents)."""
        with self.tx():
            yield

    # -- writing ----------------------------------------------------------------------------------
    def record(
        self,
        *,
        client: str,
        account: str,
        path: str,
        sha256: str,
        size: int,
        type: str,
        name: str,
        source: str,
        sender: str,
        subject: str,
        date: str | None,
        run_id: str,
        status: str,
        filed_at: str,
        text: str = "",
        reason: str | None = None,
        retain_until: str | None = None,
    ) -> None:
        """Add a filed (or quarantined) document; recording it again changes nothing.

        A row for the same path with other content (the document was removed from the archive by
        hand and the name reused) is replaced.
        """
        row, text = _row(locals())
        path, name, sender, subject = row[2], row[6], row[8], row[9]
        with self.tx() as db:
            old = db.execute(
                "SELECT id, sha256 FROM documents WHERE client = ? AND account = ? AND path = ?",
                (client, account, path),
            ).fetchone()
            if old is not None and old["sha256"] == sha256:
                return
            if old is not None:
                db.execute("DELETE FROM documents WHERE id = ?", (old["id"],))
                db.execute("DELETE FROM documents_fts WHERE rowid = ?", (old["id"],))
            cur = db.execute(_INSERT, (None, *row))
            db.execute(_INSERT_FTS, (cur.lastrowid, name, path, sender, subject, text))

    def record_many(self, documents: list[dict[str, Any]]) -> list[tuple[int, Exception]]:
        """`record` each of ``documents`` (its keyword arguments), all in one go when they can
        be (a few statements for them all), else one by one; the failures, by position.

        Inside `batch`, a failure of one leaves the others recorded."""
        try:
            with self.tx() as db:
                self._insert_many(db, [_row(d) for d in documents])
            return []
        except Exception:  # one of them: record each on its own, to find which
            failures = []
            for n, document in enumerate(documents):
                try:
                    self.record(**document)
                except Exception as exc:
                    failures.append((n, exc))
            return failures

    def _insert_many(self, db: sqlite3.Connection, rows: list[tuple[tuple[Any, ...], str]]) -> None:
        """Insert new documents as `record` does, each after any row of its path with other
        content is removed (one lookup for them all; ids given in order)."""
        keys = {(row[0], row[1], row[2]) for row, _ in rows}
        if len(keys) != len(rows) or len({k[:2] for k in keys}) != 1:
            raise ValueError("not distinct paths of one account")  # one by one, in order
        client, account = rows[0][0][0], rows[0][0][1]
        marks = ", ".join("?" * len(rows))
        old = {
            r["path"]: (r["id"], r["sha256"])
            for r in db.execute(
                f"SELECT path, id, sha256 FROM documents WHERE client = ? AND account = ? "
                f"AND path IN ({marks})",
                (client, account, *(row[2] for row, _ in rows)),
            )
        }
        rows = [(row, text) for row, text in rows if old.get(row[2], (0, None))[1] != row[3]]
        stale = [(old[row[2]][0],) for row, _ in rows if row[2] in old]
        db.executemany("DELETE FROM documents WHERE id = ?", stale)
        db.executemany("DELETE FROM documents_fts WHERE rowid = ?", stale)
        (last,) = db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()
        ids = range(last + 1, last + 1 + len(rows))
        db.executemany(_INSERT, [(i, *row) for i, (row, _) in zip(ids, rows, strict=True)])
        db.executemany(
            _INSERT_FTS,
            [
                (i, row[6], row[2], row[8], row[9], text)
                for i, (row, text) in zip(ids, rows, strict=True)
            ],
        )

    def record_duplicate(
        self,
        *,
        client: str,
        account: str,
        sha256: str,
        path: str,
        name: str,
        source: str,
        sender: str,
        date: str | None,
        run_id: str,
        seen_at: str,
    ) -> None:
        now = seen_at
        path, name, source, sender = (decode_name(v) for v in (path, name, source, sender))
        with self.tx() as db:
            db.execute(
                """INSERT INTO duplicates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                (client, account, sha256, path, name, source, sender, date, now, run_id),
            )

    def observe(
        self, folder: bytes, seen: dict[bytes, str], now: float, write: bool
    ) -> dict[bytes, float]:
        """When each file of a drop folder was first seen with its present signature.

        A file new or changed since the last scan is first seen ``now``; rows of files gone
        from the folder are dropped. A clock that went back restarts the wait (never negative).
        With ``write`` false (a dry run) nothing is stored.
        """
        with self.tx() as db:
            rows = {
                bytes(r["path"]): (r["signature"], r["first_seen"])
                for r in db.execute(
                    "SELECT path, signature, first_seen FROM drop_seen WHERE folder = ?",
                    (folder,),
                )
            }
            out: dict[bytes, float] = {}
            changed = []
            for path, sig in seen.items():
                old = rows.get(path)
                if old is not None and old[0] == sig and old[1] <= now:
                    out[path] = old[1]
                else:
                    out[path] = now
                    changed.append((folder, path, sig, now))
            if write:
                gone = [(folder, p) for p in rows if p not in seen]
                db.executemany("DELETE FROM drop_seen WHERE folder = ? AND path = ?", gone)
                db.executemany("INSERT OR REPLACE INTO drop_seen VALUES (?, ?, ?, ?)", changed)
        return out

    # -- reading ----------------------------------------------------------------------------------
    def by_hash(self, client: str, account: str, sha256: str) -> Document | None:
        row = self.db.execute(
            "SELECT * FROM documents WHERE client = ? AND account = ? AND sha256 = ? AND status = 'filed' ORDER BY id LIMIT 1",
            (client, account, sha256),
        ).fetchone()
        return None if row is None else _doc(row)

    def search(
        self, client: str, query: str, *, account: str | None = None, limit: int = 20
    ) -> list[Document]:
        match = fts_query(query)
        if not match:
            return []
        sql = """SELECT d.*, snippet(documents_fts, -1, '[', ']', ' … ', 12) AS snip
                 FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid
                 WHERE documents_fts MATCH ? AND d.client = ?"""
        args: list[Any] = [match, client]
        if account:
            sql += " AND d.account = ?"
            args.append(account)
        sql += " ORDER BY bm25(documents_fts) LIMIT ?"
        args.append(limit)
        return [_doc(r, r["snip"]) for r in self.db.execute(sql, args)]

    def documents(
        self,
        client: str,
        *,
        since: str | None = None,
        account: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Document]:
        sql = "SELECT * FROM documents WHERE client = ?"
        args: list[Any] = [client]
        if since:
            sql += " AND filed_at >= ?"
            args.append(since)
        if account:
            sql += " AND account = ?"
            args.append(account)
        if status:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY filed_at, id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [_doc(r) for r in self.db.execute(sql, args)]

    def duplicates(self, client: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT * FROM duplicates WHERE client = ? ORDER BY seen_at", (client,)
            )
        ]
