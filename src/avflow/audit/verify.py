"""Checking a client's trail: the hash chain, then the signed checkpoints and seal against it.

The chain shows an edited record (its hash no longer matches its bytes), a deleted, inserted or
reordered one (the sequence numbers or the ``prev`` links break). Cutting records off the end
leaves a valid but shorter chain: the checkpoints and the seal, kept in their own files and signed
with the home folder's key (or checked against the public key the client holds), show that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from avflow.audit.checkpoints import (
    CHECKPOINTS,
    SEAL,
    Checkpoint,
    CheckpointError,
    read_checkpoints,
    read_seal,
)
from avflow.audit.format import GENESIS, HASH_MARK, PREV_MARK, client_prefix, month_files
from avflow.audit.keys import check, fingerprint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a trail, located as precisely as possible."""

    message: str
    seq: int | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = (
            f"{self.file}:{self.line}: "
            if self.file and self.line
            else (f"{self.file}: " if self.file else "")
        )
        return where + self.message


@dataclass
class Verification:
    """What `verify_trail` found."""

    client: str
    records: int = 0
    files: list[str] = field(default_factory=list)
    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    checkpoints: int = 0
    anchored_at: int = 0  # seq of the prune anchor the chain starts after (0: from the start)
    last_checkpoint: int = 0
    sealed_at: int = 0
    key: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


MAX_PROBLEMS = 50
STATE_DB = "state.db"  # the kind of the unsigned mark state.db keeps of the trail's sealed end


def verify_trail(
    directory: Path,
    client: str,
    public: Ed25519PublicKey | None,
    extra_checkpoints: Iterable[Checkpoint] = (),
    known: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Check ``client``'s trail in ``directory`` (records, ``checkpoints.jsonl``, ``seal.json``).

    ``public`` is the key the checkpoints must be signed with; None skips the signature check
    (a warning says so). ``extra_checkpoints`` are ones the client kept from an earlier bundle.
    ``known`` is the (seq, hash) state.db remembers as the sealed end of the trail: the trail must
    reach it, with that record unchanged, even if the trail's own signatures were removed.
    ``progress`` is told the bytes of the trail read so far, now and then (a progress bar).
    """
    result = Verification(client)
    result.key = fingerprint(public) if public is not None else None
    checkpoints, seal = _read_signed(directory, client, public, list(extra_checkpoints), result)
    marks = [Checkpoint(client, known[0], known[1], "", STATE_DB, "")] if known else []
    walk = _Walk(client, result, checkpoints + ([seal] if seal else []) + marks)
    files = month_files(directory)
    result.files = [p.name for p in files]
    for path in files:
        if walk.file(path, progress):
            return result  # too many problems to go on
    result.records = walk.count
    result.last_seq = walk.expected - 1 if walk.expected else result.anchored_at
    result.last_hash = walk.last.decode()
    _check_end(result, checkpoints + marks, seal, files)
    if public is None and (result.records or checkpoints):
        # Every trail that has records was signed: a home folder without its key is suspect.
        result.problems.append(
            Problem(
                "no public key to check the signatures with (the home folder's key is missing; pass --pubkey)"
            )
        )
    return result


class _Walk:
    """The walk along a client's records, in order: each record's hash, its place in the chain,
    and the checkpoints that name it."""

    def __init__(self, client: str, result: Verification, checkpoints: list[Checkpoint]) -> None:
        self.client, self.result, self.problems = client, result, result.problems
        self.anchors = [cp for cp in checkpoints if cp.kind == "anchor"]
        self.by_seq: dict[int, list[Checkpoint]] = {}
        for cp in checkpoints:
            self.by_seq.setdefault(cp.seq, []).append(cp)
        self.prefix = client_prefix(client)
        self.expected = 0  # the next seq, once the first record is read
        self.last = GENESIS.encode()
        self.count = 0
        self.last_at: tuple[str | None, int | None] = (None, None)
        self.gaps: list[tuple[int, int, int]] = []  # (problem index, first missing, seq found)
        self.read = 0  # bytes of the files already checked

    def file(self, path: Path, progress: Callable[[int], None] | None = None) -> bool:
        """Check one month's file; True once there are too many problems to go on.
        ``progress`` is told the bytes read so far (all files) every 16,384 records."""
        name = path.name
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if progress is not None and not n & 0x3FFF:
                    progress(self.read + f.tell())
                if self.record(raw, name, n):
                    return True
            self.read += f.tell()
        return False

    def record(self, raw: bytes, name: str, n: int) -> bool:
        line = raw[:-1]
        if (
            raw[-1:] != b"\n"
            or line[-75:-66] != HASH_MARK
            or line[-149:-140] != PREV_MARK
            or line[:7] != b'{"seq":'
        ):
            self.problems.append(
                Problem("not a complete audit record (cut short or edited)", None, name, n)
            )
            return len(self.problems) >= MAX_PROBLEMS
        comma = line.find(b",", 7)
        try:
            seq = int(line[7:comma])
        except ValueError:
            self.problems.append(
                Problem("its sequence number is not a number (edited)", None, name, n)
            )
            return False
        h = hashlib.sha256(line[:-75])
        h.update(b"}")
        digest = h.hexdigest().encode()
        own = line[-66:-2]
        self.count += 1
        problem: str | None
        if digest != own:
            problem = f"record seq {seq} was edited: its hash does not match its content"
        elif not line.startswith(self.prefix, comma + 36):
            problem = f"record seq {seq} does not belong to client {self.client!r}"
        else:
            problem = self.place(seq, line[-140:-76])
        if problem:
            if seq > self.expected > 0:
                self.gaps.append((len(self.problems), self.expected, seq))
            self.problems.append(Problem(problem, seq, name, n))
            if len(self.problems) >= MAX_PROBLEMS:
                return True
        if digest == own:
            self.against_checkpoints(seq, own, name, n)
        if self.expected == 0:
            self.result.first_seq = seq
        self.expected = seq + 1
        self.last = own
        self.last_at = (name, n)
        return False

    def place(self, seq: int, prev: bytes) -> str | None:
        """What is wrong with record ``seq`` (linked to ``prev``) where it stands, if anything."""
        expected = self.expected
        if expected == 0:
            return _check_start(seq, prev, self.anchors, self.result)
        if seq > expected:
            gone = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
            return f"record seq {seq} follows seq {expected - 1}: record {gone} deleted"
        if seq < expected:
            _reordered(self.problems, self.gaps, seq)
            return (
                f"record seq {seq} is out of place after seq {expected - 1}: "
                "records reordered or inserted"
            )
        if prev != self.last:
            self.problems.append(
                Problem(
                    f"record seq {seq - 1} was replaced: record seq {seq} does not chain to it",
                    seq - 1,
                    *self.last_at,
                )
            )
        return None

    def against_checkpoints(self, seq: int, own: bytes, name: str, n: int) -> None:
        for cp in self.by_seq.get(seq, ()):
            if cp.hash.encode() != own:
                self.problems.append(
                    Problem(
                        f"record seq {seq} differs from the one {_source(cp)}: "
                        f"the trail was rewritten up to seq {seq}",
                        seq,
                        name,
                        n,
                    )
                )


def _source(cp: Checkpoint) -> str:
    if cp.kind == STATE_DB:
        return "state.db recorded as the end of the trail"
    return f"signed in the {cp.kind} checkpoint of {cp.time}"


def _claim(cp: Checkpoint) -> str:
    if cp.kind == STATE_DB:
        return f"state.db recorded seq {cp.seq} as its end"
    return f"the {cp.kind} checkpoint of {cp.time} signed seq {cp.seq}"


def _reordered(problems: list[Problem], gaps: list[tuple[int, int, int]], seq: int) -> None:
    """A "missing" record that turns up later was moved, not deleted: say so in the first problem."""
    for index, first_missing, found in gaps:
        if first_missing <= seq < found:
            p = problems[index]
            problems[index] = Problem(
                f"record seq {found} is out of place after seq {first_missing - 1}: records reordered "
                f"(seq {seq} comes later)",
                p.seq,
                p.file,
                p.line,
            )


def _check_start(
    seq: int, prev: bytes, anchors: list[Checkpoint], result: Verification
) -> str | None:
    if seq == 1:
        return (
            None if prev == GENESIS.encode() else "record seq 1 does not start the chain (inserted)"
        )
    for anchor in anchors:
        if anchor.seq == seq - 1:
            result.anchored_at = anchor.seq
            if anchor.hash.encode() != prev:
                return (
                    f"record seq {seq} does not follow the signed prune anchor at seq {anchor.seq}"
                )
            return None
    start = max((a.seq + 1 for a in anchors if a.seq < seq), default=1)
    gone = f"record seq {start}" if start == seq - 1 else f"records {start}..{seq - 1}"
    after = f"after the prune anchor at seq {start - 1}" if start > 1 else "no signed prune anchor"
    return f"the trail starts at record seq {seq}: {gone} deleted ({after})"


def _check_end(
    result: Verification, checkpoints: list[Checkpoint], seal: Checkpoint | None, files: list[Path]
) -> None:
    last = result.last_seq
    name = files[-1].name if files else None
    beyond = [cp for cp in [*checkpoints, *([seal] if seal else [])] if cp.seq > last]
    if beyond:
        cp = max(beyond, key=lambda c: (c.seq, c.kind != STATE_DB))  # a signature first
        gone = f"seq {last + 1}" if cp.seq == last + 1 else f"seq {last + 1}..{cp.seq}"
        cut = "the trail was deleted" if not files else "records were cut off the end"
        result.problems.append(
            Problem(
                f"record {gone} missing: the trail ends at seq {last} but {_claim(cp)} ({cut})",
                last + 1,
                name,
            )
        )
    signed = [cp.seq for cp in checkpoints if cp.kind not in ("anchor", STATE_DB)]
    result.last_checkpoint = max(signed, default=0)
    result.sealed_at = seal.seq if seal else 0
    if (
        result.records
        and not signed
        and seal is None
        and not any(cp.kind == "anchor" for cp in checkpoints)
    ):
        result.problems.append(
            Problem(
                "the trail has no signed checkpoint: checkpoints.jsonl and seal.json are missing"
            )
        )
    elif result.records and seal is None:
        result.warnings.append(
            "no seal.json: records written after the last checkpoint cannot be checked for truncation"
        )


def _read_signed(
    directory: Path,
    client: str,
    public: Ed25519PublicKey | None,
    extra: list[Checkpoint],
    result: Verification,
) -> tuple[list[Checkpoint], Checkpoint | None]:
    """Read checkpoints and seal; drop (and report) any whose signature or client is wrong."""
    good: list[Checkpoint] = []
    seal: Checkpoint | None = None
    try:
        listed = [
            (CHECKPOINTS, i, cp)
            for i, cp in enumerate(read_checkpoints(directory / CHECKPOINTS), 1)
        ]
        sealed = read_seal(directory / SEAL)
    except CheckpointError as exc:
        result.problems.append(Problem(str(exc).split(": ", 1)[1], None, exc.path.name, exc.line))
        return good, None
    listed += [("--anchor", i, cp) for i, cp in enumerate(extra, 1)]
    if sealed is not None:
        listed.append((SEAL, 1, sealed))
    for source, line, cp in listed:
        if cp.client != client:
            result.problems.append(
                Problem(
                    f"checkpoint for client {cp.client!r}, not {client!r}", cp.seq, source, line
                )
            )
        elif public is not None and not check(public, cp.sig, cp.message()):
            result.problems.append(
                Problem(
                    f"checkpoint at seq {cp.seq} is not signed by key {fingerprint(public)}",
                    cp.seq,
                    source,
                    line,
                )
            )
        elif source == SEAL:
            seal = cp
        else:
            good.append(cp)
    result.checkpoints = len(good)
    return good, seal
