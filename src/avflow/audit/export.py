"""Reading a trail back: filtered records, JSON lines and CSV exports, and the verification bundle.

The bundle is a zip a client can check with nothing but Python (no avflow, no state): the record
files exactly as written, ``checkpoints.jsonl``, ``seal.json``, the public key, a manifest with
each file's SHA-256, ``verify_audit.py`` (standard library only, Ed25519 included) and a README.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from avflow.audit import standalone
from avflow.audit.checkpoints import CHECKPOINTS, SEAL
from avflow.audit.format import FIELDS, last_line, line_seq, month_files
from avflow.audit.keys import PUBLIC_NAME, fingerprint, public_pem
from avflow.fsutil import replacing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class Filter:
    """Which records to show or export (all bounds are aware datetimes; None: no bound)."""

    since: datetime | None = None
    until: datetime | None = None
    workflow: str | None = None
    events: tuple[str, ...] = ()  # glob patterns: "effect.*", "run.finished"

    def matches(self, rec: dict[str, Any]) -> bool:
        if self.workflow is not None and rec.get("workflow") != self.workflow:
            return False
        if self.events and not any(
            fnmatch.fnmatchcase(str(rec.get("event")), p) for p in self.events
        ):
            return False
        if self.since or self.until:
            when = record_time(rec)
            if self.since and when < self.since:
                return False
            if self.until and when >= self.until:
                return False
        return True


def record_time(rec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(rec["time"]).replace("Z", "+00:00"))


def iter_records(
    directory: Path, flt: Filter | None = None
) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """``(line, record)`` for each record that passes ``flt``, oldest first.

    A line that is not JSON (a damaged trail) is skipped here; `verify` reports it.
    """
    flt = flt or Filter()
    since_month = flt.since.astimezone(UTC).strftime("%Y-%m") if flt.since else ""
    for path in month_files(directory):
        if path.stem < since_month:  # a file holds records up to the end of its month
            continue
        with open(path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and flt.matches(rec):
                    yield line, rec


def write_jsonl(directory: Path, flt: Filter, out: IO[bytes]) -> int:
    """The matching records' lines exactly as stored (so each one's hash still checks)."""
    n = 0
    for line, _ in iter_records(directory, flt):
        out.write(line if line.endswith(b"\n") else line + b"\n")
        n += 1
    return n


def write_csv(directory: Path, flt: Filter, out: IO[str]) -> int:
    """One row a record, ``details`` as JSON; formula-like text is defused for spreadsheets."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    n = 0
    for _, rec in iter_records(directory, flt):
        row = [rec.get(k) for k in FIELDS]
        row[FIELDS.index("details")] = json.dumps(
            rec.get("details") or {}, sort_keys=True, ensure_ascii=False
        )
        writer.writerow([_cell(v) for v in row])
        n += 1
    return n


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula (``=…``, ``+…``, ``@…``) gets a ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


README = """\
Audit trail of client {client}: verification bundle

Made by avflow on {created} (UTC). Records seq {first}..{last} in {files}.

What is here
- records/YYYY-MM.jsonl  the records, one JSON object a line, exactly as written. Each line's
                         "hash" is the SHA-256 of the line without its ,"hash":"..." member;
                         "prev" is the hash of the record before it.
- checkpoints.jsonl      Ed25519 signatures over (client, seq, hash) taken as the trail grew.
- seal.json              the signature over the newest record at the time of the last run.
- {pubkey}  the public key that made them (fingerprint {fp}).
- manifest.json          each file's SHA-256.
- verify_audit.py        a checker needing only Python 3.9 or later, nothing else.

How to check it
    python3 verify_audit.py . --pubkey <the public key your assistant gave you separately>

It prints "OK" and exits 0 when every record is intact, in order, none is missing, and every
signature was made with that key; otherwise it names the first bad record and exits 1. Without
--pubkey it uses the key in this folder, which proves only that the bundle is self-consistent.
"""


def bundle(
    directory: Path, client: str, public: Ed25519PublicKey, dest: Path, now: datetime
) -> dict[str, Any]:
    """Write the verification bundle for ``client`` to ``dest`` (a .zip) and return its manifest."""
    files = month_files(directory)
    members: dict[str, Path] = {f"records/{p.name}": p for p in files}
    for name in (CHECKPOINTS, SEAL):
        if (directory / name).exists():
            members[name] = directory / name
    first = last = 0
    if files:
        with open(files[0], "rb") as f:
            first = line_seq(f.readline()) or 0
        last = line_seq(last_line(files[-1]) or b"") or 0
    manifest: dict[str, Any] = {
        "client": client,
        "created": now.astimezone(UTC).isoformat(),
        "first_seq": first,
        "last_seq": last,
        "key": fingerprint(public),
        "files": {},
    }
    with replacing(dest, binary=True) as out:
        _write_zip(out, members, manifest, public, client, now, files, first, last)
    return manifest


def _write_zip(
    out: IO[bytes],
    members: dict[str, Path],
    manifest: dict[str, Any],
    public: Ed25519PublicKey,
    client: str,
    now: datetime,
    files: list[Path],
    first: int,
    last: int,
) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for arcname, path in members.items():
            data = path.read_bytes()
            manifest["files"][arcname] = hashlib.sha256(data).hexdigest()
            z.writestr(arcname, data)
        pem = public_pem(public)
        manifest["files"][PUBLIC_NAME] = hashlib.sha256(pem).hexdigest()
        z.writestr(PUBLIC_NAME, pem)
        z.writestr("verify_audit.py", Path(standalone.__file__).read_bytes())
        z.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        z.writestr(
            "README.txt",
            README.format(
                client=client,
                created=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                first=first,
                last=last,
                files=", ".join(p.name for p in files) or "no file",
                pubkey=PUBLIC_NAME.ljust(21),
                fp=fingerprint(public),
            ),
        )


def csv_text(directory: Path, flt: Filter) -> str:
    buf = io.StringIO()
    write_csv(directory, flt, buf)
    return buf.getvalue()
