"""A client's audit status on the dashboard: the ``avflow audit verify`` result, last checkpoint.

Verifying reads the whole trail, so the result is kept until one of the trail's files changes
(name, size or modification time), and the page loads it after the rest of the page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from avflow.app import App
from avflow.audit.checkpoints import CHECKPOINTS, SEAL, CheckpointError, last_checkpoint, read_seal
from avflow.audit.verify import Problem, verify_trail


@dataclass(frozen=True)
class AuditStatus:
    """What the client page says of a trail."""

    ok: bool
    summary: str  # one line, like the first line ``avflow audit verify`` prints
    records: int
    last_checkpoint: str  # "seq 120, 2026-03-03T09:00:00Z (every)" or ""
    sealed_at: int


_cache: dict[tuple[Path, str], tuple[tuple[object, ...], AuditStatus]] = {}
_lock = threading.Lock()


def _signature(directory: Path) -> tuple[object, ...]:
    if not directory.is_dir():
        return ()
    return tuple(
        sorted(
            (p.name, st.st_size, st.st_mtime_ns) for p in directory.iterdir() for st in [p.stat()]
        )
    )


def audit_status(app: App, client: str) -> AuditStatus:
    """Verify ``client``'s trail (or reuse the last answer while its files are unchanged)."""
    directory = app.audit.client_dir(client)
    sig = (*_signature(directory), app.state.audit_mark(client), app.state.run_count(client))
    key = (directory, client)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == sig:
        return cached[1]
    status = _verify(app, client, directory)
    with _lock:
        _cache[key] = (sig, status)
    return status


def _verify(app: App, client: str, directory: Path) -> AuditStatus:
    mark, runs = app.state.audit_mark(client), app.state.run_count(client)
    if not directory.is_dir() and mark is None and runs == 0:
        return AuditStatus(True, "no audit trail yet (no run so far)", 0, "", 0)
    trail = app.audit
    public = trail.key.public() if trail.key.exists() else None
    result = verify_trail(directory, client, public, known=mark)
    if runs and not result.records and not result.problems:
        result.problems.append(
            Problem(f"state.db has {runs} run(s) of client {client!r} but its trail has no records")
        )
    if result.ok:
        summary = (
            f"OK: {result.records} records (seq {result.first_seq}..{result.last_seq}) in "
            f"{len(result.files)} file(s); {result.checkpoints} checkpoint(s) and the seal at seq "
            f"{result.sealed_at} verified"
        )
    else:
        summary = f"FAILED: first bad record: {result.problems[0]}"
    return AuditStatus(
        result.ok, summary, result.records, _last_checkpoint(directory), result.sealed_at
    )


def _last_checkpoint(directory: Path) -> str:
    try:
        cp = last_checkpoint(directory / CHECKPOINTS)
        seal = read_seal(directory / SEAL)
    except (CheckpointError, OSError, ValueError):
        return "unreadable"
    newest = max((c for c in (cp, seal) if c is not None), key=lambda c: c.seq, default=None)
    if newest is None:
        return ""
    return f"seq {newest.seq}, {newest.time} ({newest.kind})"
