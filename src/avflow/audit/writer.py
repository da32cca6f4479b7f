"""Appending records to a client's chain, and signing checkpoints as it grows."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog

from avflow.audit import pipeline
from avflow.audit.checkpoints import (
    CHECKPOINTS,
    SEAL,
    Checkpoint,
    CheckpointError,
    append_checkpoint,
    last_checkpoint,
    read_seal,
    write_seal,
)
from avflow.audit.format import (
    GENESIS,
    last_line,
    line_hashes,
    line_seq,
    month_files,
    seal_line,
    utc_stamp,
)
from avflow.audit.keys import AuditKey
from avflow.audit.locks import OPEN_LOCKS, ClientLock, OpenLocks
from avflow.errors import AvflowError
from avflow.fsutil import fsync_dir, private_dir, private_open
from avflow.models import AuditSettings

HOURLY = timedelta(hours=1)
log = structlog.get_logger("avflow.audit")


class AuditMarks(Protocol):
    """Where each client's sealed end is remembered, away from the trail (`State`)."""

    def set_audit_mark(self, client: str, seq: int, digest: str) -> None: ...


@dataclass
class _Tail:
    """What the writer knows of the end of a client's chain (checked against the file's size)."""

    path: str
    month: str
    size: int
    seq: int
    hash: str
    cp_seq: int
    cp_time: datetime | None
    fd: int = -1  # the file, open for appending from a record to the next sync
    ino: int = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class AuditError(AvflowError):
    """A trail that cannot be appended to (its end is unreadable)."""

    exit_code = 1


class _Sink:
    """The structlog "logger" at the end of the pipeline: appends to the chain."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def msg(self, client: str, body: bytes, ed: dict[str, Any]) -> dict[str, Any]:
        return self.trail._append(client, body, ed)


class AuditTrail:
    """Appends records to each client's own chain under ``$AVFLOW_HOME/audit/<client>/``.

    Appends take the client's lock (a thread lock and an ``flock``), so the service and a manual
    ``avflow trigger`` can write to one trail at once without forking the chain. Records are
    fsynced by `sync` (the engine calls it at the end of every run), which also rewrites the
    client's seal; checkpoints are signed as the chain grows (see `avflow.audit.checkpoints`).
    """

    def __init__(
        self,
        home: Path,
        clock: Callable[[], datetime] | None = None,
        marks: AuditMarks | None = None,
    ) -> None:
        self.home = home
        self.root = home / "audit"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.key = AuditKey(home)
        self.marks = marks  # state.db (given by `App`); None: a sealed end is remembered nowhere
        self._settings: dict[str, AuditSettings] = {}
        self.personal: frozenset[str] = frozenset()  # see declare_personal
        self._locks: dict[str, ClientLock] = {}
        self._open_locks = OpenLocks(OPEN_LOCKS)
        self._guard = threading.Lock()
        self._tails: dict[str, _Tail] = {}
        self._dirty: dict[str, set[str]] = {}
        self._unsealed: set[str] = set()
        self._entered: set[tuple[str, int, int]] = set()  # files whose folder was fsynced
        self._log = structlog.wrap_logger(
            _Sink(self),
            processors=[
                pipeline.redact_secrets,
                pipeline.drop_bodies,
                pipeline.PersonalDataMasker(self._masked, lambda: self.personal),
                pipeline.render_body,
            ],
            wrapper_class=structlog.BoundLogger,
            cache_logger_on_first_use=True,
        )

    # -- settings ---------------------------------------------------------------------------------
    def configure(self, client: str, settings: AuditSettings | None) -> None:
        """Apply a client's ``audit:`` profile settings (masking, checkpoint interval)."""
        self._settings[client] = settings or AuditSettings()

    def declare_personal(self, names: Iterable[str]) -> None:
        """The field names plugins mark `avflow.Personal` (the registry's ``personal``)."""
        self.personal = frozenset(n.lower() for n in names)

    def settings(self, client: str) -> AuditSettings:
        return self._settings.get(client) or AuditSettings()

    def _masked(self, client: str) -> bool:
        s = self._settings.get(client)
        return s is not None and s.personal_data == "masked"

    # -- paths ------------------------------------------------------------------------------------
    def client_dir(self, client: str) -> Path:
        return self.root / client

    def files(self, client: str) -> list[Path]:
        return month_files(self.client_dir(client))

    def client_lock(self, client: str) -> ClientLock:
        """The lock every writer of ``client``'s trail holds (prune takes it too)."""
        lock = self._locks.get(client)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(
                    client, ClientLock(self.client_dir(client) / ".lock", self._open_locks)
                )
        return lock

    # -- writing ----------------------------------------------------------------------------------
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
        rec: dict[str, Any] = self._log.msg(
            event,
            client=client,
            workflow=workflow,
            run=run,
            step=step,
            effect=effect,
            description=description,
            details=details or {},
        )
        return rec

    def _append(self, client: str, body: bytes, ed: dict[str, Any]) -> dict[str, Any]:
        with self.client_lock(client):
            now = self.clock().astimezone(UTC)
            stamp = utc_stamp(now)
            tail = self._current_tail(client, stamp[:7])
            line, digest = seal_line(tail.seq + 1, stamp, body, tail.hash)
            if tail.fd < 0:
                tail.fd = private_open(tail.path, os.O_WRONLY | os.O_APPEND)
                tail.ino = os.fstat(tail.fd).st_ino
            os.write(tail.fd, line)
            size = os.fstat(tail.fd).st_size
            prev = tail.hash
            tail.size, tail.seq, tail.hash = size, tail.seq + 1, digest
            self._dirty.setdefault(client, set()).add(tail.path)
            with self._guard:
                self._unsealed.add(client)
            kind = self._checkpoint_due(client, tail, now)
            if kind:
                self._checkpoint(client, tail, now, kind)
        return {
            "seq": tail.seq,
            "time": stamp,
            "client": client,
            "workflow": ed.get("workflow"),
            "run": ed.get("run"),
            "step": ed.get("step"),
            "event": ed["event"],
            "effect": ed.get("effect"),
            "description": ed.get("description"),
            "details": ed["details"],
            "prev": prev,
            "hash": digest,
        }

    def _current_tail(self, client: str, month: str) -> _Tail:
        """The end of the chain, re-read from disk only when another writer has moved it."""
        tail = self._tails.get(client)
        if tail is not None:
            try:
                st = os.stat(tail.path)
                unchanged = st.st_size == tail.size and (tail.fd < 0 or st.st_ino == tail.ino)
            except FileNotFoundError:
                unchanged = tail.size == 0 and tail.fd < 0
            if unchanged:
                if month <= tail.month:  # (a clock set back keeps writing to the newest file)
                    return tail
                path = os.path.join(self.client_dir(client), f"{month}.jsonl")
                if not os.path.exists(path):
                    tail.close()
                    tail.path, tail.month, tail.size = path, month, 0
                    return tail
            tail.close()
        tail = self._load_tail(client, self.client_dir(client) / f"{month}.jsonl")
        self._tails[client] = tail
        return tail

    def _load_tail(self, client: str, month_path: Path) -> _Tail:
        directory = private_dir(self.client_dir(client))
        seq, digest = 0, GENESIS
        files = month_files(directory)
        signed = _signed_end(directory)
        for path in reversed(files):
            _repair_torn_end(path, signed.seq if signed else 0)
            line = last_line(path)
            if line:
                hashes, n = line_hashes(line), line_seq(line)
                if hashes is None or n is None:
                    raise AuditError(
                        f"{path}: the last audit record is not readable; run `avflow audit verify {client}`"
                    )
                seq, digest = n, hashes[1]
                break
        if seq == 0:
            anchor = last_checkpoint(directory / CHECKPOINTS)
            if anchor is not None and anchor.kind == "anchor":  # everything was pruned
                seq, digest = anchor.seq, anchor.hash
        if signed is not None and (
            seq < signed.seq or (seq == signed.seq and digest != signed.hash)
        ):
            # Appending now would reuse the numbers of signed records and seal over the gap.
            raise AuditError(
                f"{directory}: the trail ends at seq {seq} but seq {signed.seq} was signed"
                f" (records cut off or changed); nothing written: run `avflow audit verify {client}`"
            )
        # Never write into a month older than the newest file (a clock set back).
        path = max([month_path, *files[-1:]], key=lambda p: p.name)
        size = path.stat().st_size if path.exists() else 0
        cp = last_checkpoint(directory / CHECKPOINTS)
        cp_time = datetime.fromisoformat(cp.time.replace("Z", "+00:00")) if cp else None
        return _Tail(str(path), path.stem, size, seq, digest, cp.seq if cp else 0, cp_time)

    # -- checkpoints ------------------------------------------------------------------------------
    def _checkpoint_due(self, client: str, tail: _Tail, now: datetime) -> str | None:
        if tail.cp_time is None:
            return "first"
        if tail.seq - tail.cp_seq >= self.settings(client).checkpoint_every:
            return "every"
        if now - tail.cp_time >= HOURLY:
            return "hourly"
        return None

    def _checkpoint(self, client: str, tail: _Tail, now: datetime, kind: str) -> Checkpoint:
        self._sync_files(client)  # a signature never names records that are not on disk
        cp = self.sign(client, tail.seq, tail.hash, now, kind)
        append_checkpoint(self.client_dir(client) / CHECKPOINTS, cp)
        tail.cp_seq, tail.cp_time = tail.seq, now
        return cp

    def sign(self, client: str, seq: int, digest: str, now: datetime, kind: str) -> Checkpoint:
        unsigned = Checkpoint(
            client, seq, digest, utc_stamp(now), kind, self.key.signing_fingerprint()
        )
        return replace(unsigned, sig=self.key.sign(unsigned.message()))

    def _sync_files(self, client: str) -> None:
        for path in self._dirty.pop(client, set()):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                info = os.fstat(fd)
            finally:
                os.close(fd)
            file = (path, info.st_dev, info.st_ino)
            if file not in self._entered:  # its name in the folder: once per file and process
                fsync_dir(Path(path).parent)
                self._entered.add(file)

    def sync(self) -> None:
        """fsync what was written since the last sync and seal each client's chain at its end."""
        with self._guard:
            clients = sorted(self._unsealed)
        for client in clients:
            lock = self.client_lock(client)
            with lock:
                lock.close_on_exit()  # open only while a run writes: not one per client
                with self._guard:
                    if client not in self._unsealed:
                        continue
                    self._unsealed.discard(client)
                self._sync_files(client)
                tail = self._current_tail(client, utc_stamp(self.clock())[:7])
                tail.close()  # open only between a run's records: not one descriptor per client
                if tail.seq:
                    cp = self.sign(client, tail.seq, tail.hash, self.clock(), "seal")
                    write_seal(self.client_dir(client) / SEAL, cp)
                    self._mark(client, tail.seq, tail.hash)

    def _mark(self, client: str, seq: int, digest: str) -> None:
        """Record the sealed end of the chain in state.db, away from the trail (docs/audit.md)."""
        if self.marks is not None:
            self.marks.set_audit_mark(client, seq, digest)

    def forget(self, client: str) -> None:
        """Drop what is cached of ``client``'s chain (after the files were changed on purpose)."""
        tail = self._tails.pop(client, None)
        if tail is not None:
            tail.close()

    def __del__(self) -> None:
        for tail in getattr(self, "_tails", {}).values():
            tail.close()

    # -- reading ----------------------------------------------------------------------------------
    def records(self, client: str) -> list[dict[str, Any]]:
        """Every record of ``client``'s trail, oldest first (parsed; use `verify` to check them)."""
        out = []
        for path in self.files(client):
            with open(path, "rb") as f:
                out += [json.loads(line) for line in f if line.strip()]
        return out


def _signed_end(directory: Path) -> Checkpoint | None:
    """The newest signed end of the chain (the seal or the last checkpoint, the further one)."""
    try:
        seal = read_seal(directory / SEAL)
    except CheckpointError as exc:  # written atomically: a crash cannot damage it
        raise AuditError(f"{exc}; nothing written: run `avflow audit verify`") from None
    cp = last_checkpoint(directory / CHECKPOINTS)
    ends = [c for c in (seal, cp) if c is not None]
    return max(ends, key=lambda c: c.seq) if ends else None


def _repair_torn_end(path: Path, signed_seq: int = 0) -> None:
    """A record cut short by a power failure (no final newline) is removed before appending.

    It was never fsynced nor signed; keeping it would make every later record unverifiable.
    A record that was signed (seq at most ``signed_seq``) was fsynced first: cut short, it was
    edited, and it is left for `avflow audit verify` to report.
    """
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        data_start = max(0, size - (1 << 16))
        f.seek(data_start)
        chunk = f.read()
        cut = chunk.rfind(b"\n")
        torn = line_seq(chunk[cut + 1 :])
        if torn is not None and torn <= signed_seq:
            raise AuditError(
                f"{path}: record seq {torn} was signed but is cut short; nothing written:"
                " run `avflow audit verify`"
            )
        keep = data_start + cut + 1 if cut >= 0 else 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    log.warning("removed a partly written audit record", file=str(path), bytes=size - keep)
