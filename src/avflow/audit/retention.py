"""Pruning a trail: explicit, whole months only, never younger than the retention, and recorded.

`prune` removes the month files before a given month once every record in them is older than the
client's ``audit.retention_years`` (two years at least). Before removing anything it verifies the
trail, signs an ``anchor`` checkpoint over the last record it removes (where the kept chain now
starts), and afterwards appends an ``audit.pruned`` record saying what went. `verify` accepts a
trail that starts right after a signed anchor and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from avflow.audit.checkpoints import CHECKPOINTS, append_checkpoint
from avflow.audit.format import last_line, line_hashes, line_seq, month_files
from avflow.audit.verify import verify_trail
from avflow.audit.writer import AuditError, AuditTrail
from avflow.errors import UsageError
from avflow.fsutil import fsync_dir

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class PrunePlan:
    """The month files `prune` would remove, and the last record among them."""

    client: str
    files: list[Path]
    first_seq: int
    last_seq: int
    last_hash: str
    newest_time: str
    cutoff: datetime


def retention_cutoff(now: datetime, years: int) -> datetime:
    """``now`` minus ``years`` calendar years (29 February becomes the 28th)."""
    now = now.astimezone(UTC)
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def plan(
    trail: AuditTrail, client: str, before: str, retention_years: int, now: datetime
) -> PrunePlan:
    """Check a prune of ``client``'s months before ``before`` (``YYYY-MM``) and say what it removes.

    Raises `UsageError` for a bad month, nothing to prune, or records younger than the retention.
    """
    if not MONTH.match(before):
        raise UsageError(f"--before {before!r}: expected a month as YYYY-MM")
    files = [p for p in month_files(trail.client_dir(client)) if p.stem < before]
    if not files:
        raise UsageError(f"nothing to prune: client {client!r} has no audit file before {before}")
    cutoff = retention_cutoff(now, retention_years)
    first = last = 0
    last_hash, newest = "", ""
    for path in files:
        line = last_line(path)
        if not line:
            continue
        seq, hashes = line_seq(line), line_hashes(line)
        if seq is None or hashes is None:
            raise AuditError(
                f"{path}: the last record is not readable; run `avflow audit verify {client}`"
            )
        if not first:
            with open(path, "rb") as f:
                first = line_seq(f.readline()) or seq
        last, last_hash = seq, hashes[1]
        stamp = line[line.find(b'"time":"') + 8 :][:27].decode()
        newest = stamp
        if datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= cutoff:
            raise UsageError(
                f"refusing to prune {path.name}: its record seq {seq} ({stamp}) is younger than the "
                f"{retention_years}-year retention of client {client!r} (only records before "
                f"{cutoff:%Y-%m-%d} may be pruned)"
            )
    return PrunePlan(client, files, first, last, last_hash, newest, cutoff)


def prune(
    trail: AuditTrail, client: str, before: str, retention_years: int, now: datetime
) -> PrunePlan:
    """Remove the months `plan` allows, after verifying the trail; record that it happened."""
    directory = trail.client_dir(client)
    with trail.client_lock(client):
        p = plan(trail, client, before, retention_years, now)
        check = verify_trail(directory, client, trail.key.public())
        if not check.ok:
            raise AuditError(
                f"the trail of client {client!r} does not verify, nothing pruned: {check.problems[0]}"
            )
        anchor = trail.sign(client, p.last_seq, p.last_hash, now, "anchor")
        append_checkpoint(directory / CHECKPOINTS, anchor)
        for path in p.files:
            path.unlink()
        fsync_dir(directory)
        trail.forget(client)
    names = [f.stem for f in p.files]
    trail.record(
        client,
        "audit.pruned",
        description=f"pruned {p.last_seq - p.first_seq + 1} audit records (seq {p.first_seq}..{p.last_seq}, "
        f"{names[0]} to {names[-1]}) older than the {retention_years}-year retention",
        details={
            "before": before,
            "months": names,
            "first_seq": p.first_seq,
            "last_seq": p.last_seq,
            "anchor_hash": p.last_hash,
            "retention_years": retention_years,
            "cutoff": p.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    trail.sync()
    return p


def describe(p: PrunePlan) -> str:
    months = ", ".join(f.stem for f in p.files)
    return (
        f"{p.last_seq - p.first_seq + 1} records, seq {p.first_seq}..{p.last_seq}, months {months}"
    )
