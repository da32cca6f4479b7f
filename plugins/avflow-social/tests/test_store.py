"""social.db: one idle connection kept between passes, never for a file replaced meanwhile; a
reader of a home with nothing recorded sees an empty store it cannot write to."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from avflow_social.store import Store

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
