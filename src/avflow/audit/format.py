"""The byte layout of an audit record, chosen so that checking a chain never parses JSON.

A record is one line of UTF-8 JSON whose members always come in this order::

    {"seq":7,"time":"2026-01-05T09:00:00.000000Z","client":"acme","workflow":"inbox",
     "run":"…","step":"…","event":"effect.done","effect":"…","description":"…",
     "details":{…},"prev":"<64 hex>","hash":"<64 hex>"}

``details`` has its keys sorted; the separators are compact and non-ASCII text is kept as is.
``hash`` is the SHA-256 of the record's JSON without its ``hash`` member, that is of the line's
bytes up to the ``,"hash":`` that closes it, followed by ``}``. Because ``prev`` and ``hash``
always end the line and ``time`` always has the same width, a verifier finds the hashes, the
sequence number and the client at fixed offsets.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
FIELDS = (
    "seq",
    "time",
    "client",
    "workflow",
    "run",
    "step",
    "event",
    "effect",
    "description",
    "details",
    "prev",
    "hash",
)

# Offsets from the end of a line *without* its trailing newline.
HASH_TAIL = 75  # ,"hash":"<64>"}
PREV_TAIL = 149  # ,"prev":"<64>" before the hash tail
HASH_MARK = b',"hash":"'
PREV_MARK = b',"prev":"'
TIME_WIDTH = 27  # 2026-01-05T09:00:00.000000Z
MONTH_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9].jsonl"


_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode
_STRING: Any = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)


def dumps(value: Any) -> str:
    """Canonical JSON of one value: sorted keys, compact, UTF-8 kept."""
    if value.__class__ is str:
        return str(_STRING(value))
    if value is None:
        return "null"
    return _ENCODE(value)


def utc_stamp(when: datetime) -> str:
    """``2026-01-05T09:00:00.000000Z``: always 27 characters."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_body(
    client: str,
    *,
    workflow: str | None,
    run: str | None,
    step: str | None,
    event: str,
    effect: str | None,
    description: str | None,
    details: dict[str, Any],
) -> bytes:
    """The members between ``time`` and ``prev``, starting with ``,"client":``."""
    d = dumps
    return (
        f',"client":{d(client)},"workflow":{d(workflow)},"run":{d(run)},"step":{d(step)},'
        f'"event":{d(event)},"effect":{d(effect)},"description":{d(description)},'
        f'"details":{d(details)}'
    ).encode()


def seal_line(seq: int, stamp: str, body: bytes, prev: str) -> tuple[bytes, str]:
    """Complete a record: returns the line (with its newline) and its hash."""
    head = f'{{"seq":{seq},"time":"{stamp}"'.encode() + body + PREV_MARK + prev.encode() + b'"'
    digest = hashlib.sha256(head + b"}").hexdigest()
    return head + HASH_MARK + digest.encode() + b'"}\n', digest


def line_hashes(line: bytes) -> tuple[str, str] | None:
    """``(prev, hash)`` read at their fixed places, or None when the line is not a record."""
    line = line.rstrip(b"\n")
    if (
        len(line) < PREV_TAIL + 20
        or line[-HASH_TAIL : -HASH_TAIL + 9] != HASH_MARK
        or line[-PREV_TAIL : -PREV_TAIL + 9] != PREV_MARK
    ):
        return None
    return line[-PREV_TAIL + 9 : -HASH_TAIL - 1].decode(), line[-66:-2].decode()


def line_seq(line: bytes) -> int | None:
    if not line.startswith(b'{"seq":'):
        return None
    end = line.find(b",", 7)
    try:
        return int(line[7:end])
    except ValueError:
        return None


def client_prefix(client: str) -> bytes:
    """The bytes every record of ``client`` has right after its time stamp."""
    return f'","client":{dumps(client)},'.encode()


def last_line(path: Path) -> bytes | None:
    """The last non-empty line of ``path`` (without its newline), read from the end."""
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
                return lines[-1] or None
            block *= 2
    return None


def month_files(directory: Path) -> list[Path]:
    """A client's record files, oldest month first."""
    return sorted(directory.glob(MONTH_GLOB)) if directory.is_dir() else []
