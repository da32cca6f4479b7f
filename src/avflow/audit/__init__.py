"""The per-client, hash-chained audit trail (DESIGN.md section 6).

Records go to ``$AVFLOW_HOME/audit/<client>/<YYYY-MM>.jsonl``, one JSON object a line. Each holds
a sequence number, the UTC time, client, workflow, run, step, event, effect key, a description,
structured details, the previous record's hash and its own hash: SHA-256 over the canonical JSON
of the record without its ``hash`` field. The chain continues across monthly files.

Appends take an exclusive lock on the client's folder, so the service and a manual
`avflow trigger` may write to the same trail at once without forking the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avflow import redact
from avflow.fsutil import FileLock

GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def _last_line(path: Path) -> bytes | None:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block = 4096
        data = b""
        while size > 0:
            step = min(block, size)
            size -= step
            f.seek(size)
            data = f.read(step) + data
            lines = data.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or size == 0:
                return lines[-1] if lines[-1] else None
            block *= 2
    return None


class AuditTrail:
    """Appends records to each client's own chain."""

    def __init__(self, home: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.root = home / "audit"
        self.clock = clock or (lambda: datetime.now(UTC))
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._dirty: set[Path] = set()

    def client_dir(self, client: str) -> Path:
        return self.root / client

    def files(self, client: str) -> list[Path]:
        d = self.client_dir(client)
        return sorted(d.glob("*.jsonl")) if d.is_dir() else []

    def _tail(self, client: str) -> tuple[int, str]:
        for path in reversed(self.files(client)):
            line = _last_line(path)
            if line:
                rec = json.loads(line)
                return int(rec["seq"]), str(rec["hash"])
        return 0, GENESIS

    def record(
        self,
        client: str,
        event: str,
        *,
        workflow: str | None = None,
        run: str | None = None,
        step: str | None = None,
        effect: str | None = None,
        description: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record to ``client``'s trail and return it."""
        with self._guard:
            lock = self._locks.setdefault(client, threading.Lock())
        now = self.clock().astimezone(UTC)
        with lock, FileLock(self.client_dir(client) / ".lock"):
            seq, prev = self._tail(client)
            rec: dict[str, Any] = {
                "seq": seq + 1,
                "time": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "client": client,
                "workflow": workflow,
                "run": run,
                "step": step,
                "event": event,
                "effect": effect,
                "description": redact.redact(description),
                "details": redact.redact(details or {}),
                "prev": prev,
            }
            rec["hash"] = record_hash(rec)
            path = self.client_dir(client) / f"{now:%Y-%m}.jsonl"
            with open(path, "ab") as f:
                f.write(canonical(rec) + b"\n")
            self._dirty.add(path)
        return rec

    def sync(self) -> None:
        """fsync every file written since the last sync (called at the end of each run)."""
        with self._guard:
            dirty, self._dirty = self._dirty, set()
        for path in dirty:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def records(self, client: str) -> list[dict[str, Any]]:
        out = []
        for path in self.files(client):
            with open(path, "rb") as f:
                out += [json.loads(line) for line in f if line.strip()]
        return out
