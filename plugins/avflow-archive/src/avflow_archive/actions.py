"""The ``archive.file`` and ``archive.scan`` actions."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import avflow
from avflow import AvflowError, StepContext, StepFailed
from avflow_archive import dropfolder
from avflow_archive.filing import Filer
from avflow_archive.incoming import Incoming
from avflow_archive.index import ArchiveIndex
from avflow_archive.items import FileItem
from avflow_archive.params import DropFolderParams, FileParams, FilingParams, ScanParams
from avflow_archive.sanitize import clean_component, decode_name
from avflow_archive.source import SourceGone

BATCH = 64  # files per batch: one fsync per folder and one index transaction each
KEEP_SOURCE = (
    "skipped",
    "unmatched",
    "unreadable",
    "changed",
    "failed",
    "would_file",
    "would_quarantine",
)


def file_action(ctx: StepContext, params: FileParams) -> dict[str, Any]:
    """``archive.file``: file the files of an earlier step, or of a drop folder."""
    drop = params.drop()
    if drop is not None:
        return _file_drop(ctx, params, drop)
    items = _spool_items(ctx, params.files or [])
    if not items:
        return _outputs(params, [])  # nothing to file: no need to reach the archive
    filer = Filer(ctx, params)
    filer.start_batch(len(items))
    entries = []
    try:
        for n, item in enumerate(items, 1):
            entry = _file_one(ctx, filer, item)
            if entry is not None:
                entries.append(entry)
            if n % BATCH == 0:
                filer.flush()
        filer.flush()
    finally:
        filer.close()
    outputs = _outputs(params, entries)
    ctx.log.info("files filed", account=params.account, **outputs["counts"])
    bad = [e for e in entries if e["status"] in ("failed", "unreadable", "changed")]
    if bad:
        # the spool is kept for a retry only if the step fails: nothing collected is lost
        listed = "; ".join(f"{e['name']}: {e['reason']}" for e in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise StepFailed(
            f"{len(bad)} of {len(entries)} files could not be filed, the others were: "
            f"{listed}{more}"
        )
    return outputs


def _file_one(ctx: StepContext, filer: Filer, item: Incoming) -> dict[str, Any] | None:
    """File one file; a failure is recorded against it (outputs, audit trail), not the step.

    None: the file vanished before it could be read (a drop file someone else took).
    """
    try:
        return filer.file(item)
    except SourceGone:
        return None
    except Exception as exc:
        if isinstance(exc, AvflowError) and not isinstance(exc, StepFailed):
            raise  # an effect whose outcome is unknown, a missing secret: the step stops
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        name = clean_component(item.name)
        ctx.note(f"could not file {name}: {text}", source=item.source)
        ctx.log.warning("file not filed", file=name, error=text)
        return {
            "name": name,
            "source": item.source,
            "status": "failed",
            "path": None,
            "reason": text,
        }


def scan_action(ctx: StepContext, params: ScanParams) -> dict[str, Any]:
    """``archive.scan``: file what a drop folder holds, then remove each filed file from it."""
    return _file_drop(ctx, params, params.drop())


def _outputs(params: FilingParams, entries: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(e["status"] for e in entries)
    return {
        "account": params.account,
        "files": entries,
        "counts": dict(sorted(counts.items())),
        "filed": [e["path"] for e in entries if e["status"] == "filed"],
    }


def _spool_items(ctx: StepContext, files: list[FileItem]) -> list[Incoming]:
    """Check that every file is in this run's spool (an earlier step put it there) and exists."""
    given_spool = ctx.spool
    spool = Path(os.path.realpath(given_spool))
    prefix, real_prefix = str(given_spool) + os.sep, str(spool) + os.sep
    items = []
    for i, f in enumerate(files):
        real = _real_in_spool(prefix, real_prefix, f.path)
        if real is None:
            real = _checked_elsewhere(i, f, given_spool, spool)
        items.append(
            Incoming(
                path=real,
                name=f.name if f.name is not None else real.name,
                origin="email",
                sender=f.sender,
                subject=f.subject,
                date=f.date or _mtime(real),  # stable across a resume, unlike 'now'
                claimed_type=f.type,
                message_id=f.message_id,
            )
        )
    return items


def _checked_elsewhere(i: int, f: FileItem, given_spool: Path, spool: Path) -> Path:
    """A file not plainly below the spool: its real path, if it is a file inside the spool
    (reached through links that stay inside); else the step fails, saying why."""
    given = Path(os.path.abspath(f.path))
    real = Path(os.path.realpath(f.path))
    shown = decode_name(f.path)
    if not real.is_relative_to(spool):
        if given.is_relative_to(given_spool) or given.is_relative_to(spool):
            raise StepFailed(
                f"files[{i}]: {shown} is in this run's spool folder but is a symbolic link "
                f"(or passes through one) to {decode_name(str(real))}, outside it: "
                "archive.file does not follow links out of the spool"
            )
        raise StepFailed(
            f"files[{i}]: {shown} is not in this run's spool folder; archive.file "
            "takes only files collected by earlier steps (use archive.scan for a folder)"
        )
    if not real.is_file():
        raise StepFailed(
            f"files[{i}]: {decode_name(f.name or real.name)}: the file is missing from the spool"
        )
    return real


def _real_in_spool(prefix: str, real_prefix: str, path: str) -> Path | None:
    """``path``'s real path when it is a regular file below the spool (``prefix``) reached
    through no link (one lstat per part below the spool, not a realpath of every part); else
    None (the caller looks closer)."""
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :].split(os.sep)
    if "" in rest or "." in rest or ".." in rest:
        return None
    current = real_prefix[:-1]
    mode = 0
    for part in rest:
        current += os.sep + part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    return Path(current) if stat.S_ISREG(mode) else None


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class Journal:
    """Entries of a drop-folder step already done, so a resumed step reports them too.

    A file removed from the drop folder before a crash is not listed again on resume; its entry
    comes from here. One JSON line per file, appended as each file is finished; the drop file's
    path is kept as its bytes (hex), since the entry shows it decoded for people.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, Path] = {}
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                    entry = record["entry"]
                    self.paths[entry["source"]] = Path(os.fsdecode(bytes.fromhex(record["raw"])))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut by a kill
                self.entries[entry["source"]] = entry

    def add(self, entry: dict[str, Any], path: Path) -> None:
        self.entries[entry["source"]] = entry
        self.paths[entry["source"]] = path
        if self.path is not None:
            avflow.private_file(self.path)  # 0600 in a 0700 folder, whatever the umask
            with open(self.path, "a") as f:
                f.write(json.dumps({"entry": entry, "raw": os.fsencode(path).hex()}) + "\n")

    def finish(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _file_drop(ctx: StepContext, params: FilingParams, drop: DropFolderParams) -> dict[str, Any]:
    folder = dropfolder.folder_of(drop, ctx.client)
    _check_overlap(ctx, params, folder)
    book = ArchiveIndex(ctx.data_dir / "index.db")
    try:
        items = dropfolder.settled_files(
            folder,
            drop,
            book,
            ctx.now().timestamp(),
            vouched=dropfolder.vouched_by(ctx.run.event, folder),
            write=not ctx.dry_run,
        )
    finally:
        book.close()
    journal_path = (
        None if ctx.dry_run else ctx.data_dir / "journal" / f"{ctx.run.id}-{ctx.step_id}.jsonl"
    )
    journal = Journal(journal_path)
    if not items and not journal.entries:
        return _outputs(params, [])  # an empty drop folder: no need to reach the archive
    filer = Filer(ctx, params)
    try:
        _file_items(ctx, filer, items, journal)
    finally:
        filer.close()
    outputs = _outputs(params, list(journal.entries.values()))
    journal.finish()
    ctx.log.info(
        "drop folder filed", folder=str(folder), account=params.account, **outputs["counts"]
    )
    return outputs


def _file_items(ctx: StepContext, filer: Filer, items: list[Incoming], journal: Journal) -> None:
    done_before = dict(journal.entries)
    for entry in done_before.values():
        if entry.get("status") in ("filed", "duplicate") and entry.get("sha256"):
            filer.seen.setdefault(entry["sha256"], (entry["path"], journal.paths[entry["source"]]))
    filer.start_batch(len(items))
    for start in avflow.track(range(0, len(items), BATCH), f"filing {len(items)} files"):
        done = []
        for item in items[start : start + BATCH]:
            filed = _file_one(ctx, filer, item)
            if filed is None:
                continue  # gone since the listing (another scan, or the person who dropped it)
            done_before.pop(filed["source"], None)
            done.append((item, filed))
        filer.flush()  # the batch's copies are written and durable: only now may sources go
        for item, entry in done:
            journal.add(entry, item.path)  # before the removal: a crash after it still reports it
        leaving = [(item, entry) for item, entry in done if entry["status"] not in KEEP_SOURCE]
        _remove_batch(ctx, leaving, filer.grouped)
        for item, entry in leaving:
            journal.add(entry, item.path)
    for source, entry in done_before.items():
        # filed before a crash, gone from the folder since: finish recording the removal
        if "source_removed" not in entry and entry["status"] not in KEEP_SOURCE:
            gone = Incoming(path=journal.paths[source], name=entry["name"], origin="drop")
            entry["source_removed"] = _remove(ctx, gone, entry)
            journal.add(entry, gone.path)


def _check_overlap(ctx: StepContext, params: FilingParams, folder: Path) -> None:
    """A drop folder inside a local archive (or the reverse) would file the archive into itself."""
    from avflow_archive.settings import LocalSettings

    settings = ctx.account(params.account).settings
    if not isinstance(settings, LocalSettings):
        return
    root = avflow.confine(ctx.client, settings.path)
    if dropfolder.overlaps(folder, root):
        raise StepFailed(f"drop folder {folder} and archive {root} overlap: use separate folders")


def _remove_batch(
    ctx: StepContext, leaving: list[tuple[Incoming, dict[str, Any]]], grouped: bool
) -> None:
    """Remove the drop files of a durable batch; their folders are fsynced once at the end.

    In a big step (``grouped``), the removals of a batch are one effect, as its writes were.
    """
    unsynced: set[Path] = set()
    if not grouped:
        for item, entry in leaving:
            entry["source_removed"] = _remove(ctx, item, entry, unsynced)
    elif leaving:
        wheres = sorted(f"{entry['sha256']}:{_where(item)}" for item, entry in leaving)
        key = f"removes:{hashlib.sha256(chr(10).join(wheres).encode()).hexdigest()[:32]}"
        names = ", ".join(entry["name"] for _, entry in leaving[:3])
        more = f" and {len(leaving) - 3} more" if len(leaving) > 3 else ""
        results = ctx.effect(
            key,
            f"remove {len(leaving)} filed files ({names}{more}) from the drop folder",
            lambda: [dropfolder.remove_source(item, unsynced) for item, _ in leaving],
            kind="archive.remove_source",
            reconcile=lambda: None,  # not recorded: remove again (what is gone stays gone)
        )
        for (_, entry), result in zip(leaving, results, strict=True):
            entry["source_removed"] = bool(result.get("removed"))
    dropfolder.sync_folders(unsynced)


def _where(item: Incoming) -> str:
    return hashlib.sha256(os.fsencode(item.path)).hexdigest()[:16]


def _remove(
    ctx: StepContext, item: Incoming, entry: dict[str, Any], unsynced: set[Path] | None = None
) -> bool:
    """Remove a drop file now that its copy is durable: an effect of its own.

    With ``unsynced``, its folder is added there for the caller to fsync once per batch.
    """
    key = f"remove:{entry['sha256']}:{_where(item)}"
    result = ctx.effect(
        key,
        f"remove {decode_name(str(item.path))} from the drop folder (filed as {entry['path']})",
        lambda: dropfolder.remove_source(item, unsynced),
        kind="archive.remove_source",
        words={"name": entry["name"]},
        reconcile=lambda: None if item.path.exists() else {"removed": True, "note": "already gone"},
    )
    return bool(result and result.get("removed"))
