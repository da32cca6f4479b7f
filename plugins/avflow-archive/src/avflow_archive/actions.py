"""The ``archive.file`` and ``archive.scan`` actions."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avflow import StepContext, StepFailed
from avflow_archive import dropfolder
from avflow_archive.filing import Filer, SourceGone
from avflow_archive.items import FileItem, Incoming
from avflow_archive.params import DropFolderParams, FileParams, FilingParams, ScanParams

KEEP_SOURCE = ("skipped", "unmatched", "unreadable", "would_file", "would_quarantine")


def file_action(ctx: StepContext, params: FileParams) -> dict[str, Any]:
    """``archive.file``: file the files of an earlier step, or of a drop folder."""
    drop = params.drop()
    if drop is not None:
        return _file_drop(ctx, params, drop)
    items = _spool_items(ctx, params.files or [])
    if not items:
        return _outputs(params, [])  # nothing to file: no need to reach the archive
    filer = Filer(ctx, params)
    try:
        entries = [filer.file(item) for item in items]
    finally:
        filer.close()
    outputs = _outputs(params, entries)
    ctx.log.info("files filed", account=params.account, **outputs["counts"])
    return outputs


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
    spool = Path(os.path.realpath(ctx.spool))
    items = []
    for i, f in enumerate(files):
        real = Path(os.path.realpath(f.path))
        if not real.is_relative_to(spool):
            raise StepFailed(
                f"files[{i}]: {f.path} is not in this run's spool folder; archive.file "
                "takes only files collected by earlier steps (use archive.scan for a folder)"
            )
        if not real.is_file():
            raise StepFailed(
                f"files[{i}]: {f.name or real.name}: the file is missing from the spool"
            )
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


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class Journal:
    """Entries of a drop-folder step already done, so a resumed step reports them too.

    A file removed from the drop folder before a crash is not listed again on resume; its entry
    comes from here. One JSON line per file, appended as each file is finished.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill
                self.entries[entry["source"]] = entry

    def add(self, entry: dict[str, Any]) -> None:
        self.entries[entry["source"]] = entry
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def finish(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _file_drop(ctx: StepContext, params: FilingParams, drop: DropFolderParams) -> dict[str, Any]:
    folder = dropfolder.folder_of(drop, getattr(ctx.client, "folder", None))
    items = dropfolder.settled_files(folder, drop)
    _check_overlap(ctx, params, folder)
    journal_path = (
        None if ctx.dry_run else ctx.data_dir / "journal" / f"{ctx.run.id}-{ctx.step_id}.jsonl"
    )
    journal = Journal(journal_path)
    if not items and not journal.entries:
        return _outputs(params, [])  # an empty drop folder: no need to reach the archive
    filer = Filer(ctx, params)
    try:
        done_before = dict(journal.entries)
        for item in items:
            try:
                entry = filer.file(item)
            except SourceGone:
                continue  # gone since the listing (another scan, or the person who dropped it)
            journal.add(entry)  # before the removal: a crash after it still reports this file
            done_before.pop(entry["source"], None)
            if entry["status"] not in KEEP_SOURCE:
                entry["source_removed"] = _remove(ctx, item, entry)
                journal.add(entry)
        for source, entry in done_before.items():
            # filed before a crash, gone from the folder since: finish recording the removal
            if "source_removed" not in entry and entry["status"] not in KEEP_SOURCE:
                gone = Incoming(
                    path=Path(source.removeprefix("drop:")), name=entry["name"], origin="drop"
                )
                entry["source_removed"] = _remove(ctx, gone, entry)
                journal.add(entry)
    finally:
        filer.close()
    outputs = _outputs(params, list(journal.entries.values()))
    journal.finish()
    ctx.log.info(
        "drop folder filed", folder=str(folder), account=params.account, **outputs["counts"]
    )
    return outputs


def _check_overlap(ctx: StepContext, params: FilingParams, folder: Path) -> None:
    """A drop folder inside a local archive (or the reverse) would file the archive into itself."""
    from avflow_archive.settings import LocalSettings

    settings = ctx.account(params.account).settings
    if not isinstance(settings, LocalSettings):
        return
    root = Path(settings.path).expanduser()
    base = getattr(ctx.client, "folder", None)
    if not root.is_absolute() and base is not None:
        root = base / root
    if dropfolder.overlaps(folder, root):
        raise StepFailed(f"drop folder {folder} and archive {root} overlap: use separate folders")


def _remove(ctx: StepContext, item: Incoming, entry: dict[str, Any]) -> bool:
    """Remove a drop file now that its copy is durable: an effect of its own."""
    where = hashlib.sha256(str(item.path).encode("utf-8", errors="surrogateescape")).hexdigest()[
        :16
    ]
    key = f"remove:{entry['sha256']}:{where}"
    result = ctx.effect(
        key,
        f"remove {item.path} from the drop folder (filed as {entry['path']})",
        lambda: dropfolder.remove_source(item),
        kind="archive.remove_source",
        reconcile=lambda: None if item.path.exists() else {"removed": True, "note": "already gone"},
    )
    return bool(result and result.get("removed"))
