"""social.db: one idle connection kept between passes, never for a file replaced meanwhile; a
reader of a home with nothing recorded sees an empty store it cannot write to."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from avflow_social.store import FLUSH_EVERY, Store

AT = datetime(2027, 1, 1, tzinfo=UTC)


def test_the_next_pass_reuses_the_connection(tmp_path: Path) -> None:
    first = Store(tmp_path)
    first.record("acme", "p1", "social", 1, "id1", "https://x/1", AT)
    db = first.db
    first.close()
    second = Store(tmp_path)
    assert second.db is db
    assert second.published("acme") == {("p1", "social", 1): ("id1", "https://x/1", AT.isoformat())}
    other = Store(tmp_path)  # while the first is in use: a connection of its own
    assert other.db is not db
    other.close()
    second.close()


def test_a_replaced_file_is_not_reused(tmp_path: Path) -> None:
    first = Store(tmp_path)
    first.record("acme", "p1", "social", 1, "id1", "https://x/1", AT)
    db = first.db
    first.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"social.db{suffix}").unlink(missing_ok=True)
    second = Store(tmp_path)
    assert second.db is not db
    assert second.published("acme") == {}
    second.close()


def test_a_reader_of_nothing_recorded_creates_nothing(tmp_path: Path) -> None:
    reader = Store(tmp_path / "none", create=False)
    assert reader.approvals("acme") == {} and reader.published("acme") == {}
    with pytest.raises(sqlite3.OperationalError):
        reader.approve("acme", "p1", "d", AT, "me")
    reader.close()
    again = Store(tmp_path / "none", create=False)
    assert again.approvals("acme") == {}
    again.close()
    assert not (tmp_path / "none").exists()


def published_elsewhere(path: Path) -> int:
    """How many published rows another connection sees."""
    db = sqlite3.connect(path / "social.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM published").fetchone()[0])
    finally:
        db.close()


def test_published_rows_are_committed_together_and_counted_meanwhile(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(3):
        store.record("acme", f"p{i}", "social", 1, f"id{i}", f"https://x/{i}", AT)
    assert published_elsewhere(tmp_path) == 0  # not committed yet...
    assert store.count_since("acme", "social", AT) == 3  # ...but the daily limit counts them
    assert store.count_since("acme", "other", AT) == 0
    assert store.count_since("acme", "social", AT.replace(hour=1)) == 0
    assert set(store.published("acme")) == {(f"p{i}", "social", 1) for i in range(3)}
    assert published_elsewhere(tmp_path) == 3
    for i in range(3, 3 + FLUSH_EVERY):  # every FLUSH_EVERY rows: one commit
        store.record("acme", f"p{i}", "social", 1, f"id{i}", f"https://x/{i}", AT)
    assert published_elsewhere(tmp_path) == 3 + FLUSH_EVERY
    store.record("acme", "last", "social", 1, "idl", "https://x/l", AT)
    store.close()  # and the rest when the store is closed
    assert published_elsewhere(tmp_path) == 4 + FLUSH_EVERY


def test_approvals_of_a_pass_are_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.approve_many("acme", [(f"p{i}", f"d{i}") for i in range(50)], AT, "front matter")
    wal = (tmp_path / "social.db-wal").stat().st_size
    store.close()
    assert wal < 50 * 4096  # one commit's pages, not two pages per row
    assert len(Store(tmp_path).approvals("acme")) == 50
