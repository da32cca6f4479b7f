"""Signed checkpoints: Ed25519 signatures over (client, sequence number, record hash).

They live beside the monthly record files, in files of their own, so that cutting records off the
end of a month file leaves the signatures that name them:

- ``checkpoints.jsonl``: appended every ``audit.checkpoint_every`` records, when an hour has passed
  since the last one while records are written, on the first record, and when the trail is pruned
  (an ``anchor``: the last pruned record, where the remaining chain now starts);
- ``seal.json``: the newest record's checkpoint, rewritten at the end of every run, so that cutting
  records written after the last periodic checkpoint is detected too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from avflow.audit.format import last_line
from avflow.fsutil import atomic_write, private_open

CHECKPOINTS = "checkpoints.jsonl"
SEAL = "seal.json"
KINDS = ("first", "every", "hourly", "anchor", "seal")


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: "record ``seq`` of ``client``'s trail has hash ``hash``"."""

    client: str
    seq: int
    hash: str
    time: str
    kind: str
    key: str  # fingerprint of the signing key
    sig: str = ""

    def message(self) -> bytes:
        """The exact bytes that are signed."""
        return f"avflow-audit-checkpoint/1\n{self.client}\n{self.seq}\n{self.hash}\n{self.time}\n{self.kind}\n".encode()

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        try:
            return cls(
                client=str(data["client"]),
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                time=str(data["time"]),
                kind=str(data["kind"]),
                key=str(data["key"]),
                sig=str(data["sig"]),
            )
        except KeyError as exc:
            raise ValueError(f"missing {exc.args[0]!r}") from None


class CheckpointError(ValueError):
    """A checkpoints or seal file that cannot be read."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


def read_checkpoints(path: Path) -> list[Checkpoint]:
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(Checkpoint.from_json(json.loads(line)))
            except ValueError as exc:
                raise CheckpointError(path, n, f"not a checkpoint ({exc})") from None
    return out


def last_checkpoint(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    line = last_line(path)
    if not line:
        return None
    try:
        return Checkpoint.from_json(json.loads(line))
    except ValueError:
        return None


def append_checkpoint(path: Path, cp: Checkpoint) -> None:
    """Append durably: a checkpoint is written only after the records it names are on disk."""
    fd = private_open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, cp.to_json().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_seal(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    try:
        return Checkpoint.from_json(json.loads(path.read_bytes()))
    except ValueError as exc:
        raise CheckpointError(path, 1, f"not a seal ({exc})") from None


def write_seal(path: Path, cp: Checkpoint) -> None:
    atomic_write(path, cp.to_json().encode() + b"\n")
