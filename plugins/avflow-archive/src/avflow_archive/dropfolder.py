"""Drop folders: the files a scanner (or a person) left there, once they have settled.

Only regular files are taken: symbolic links, devices and hidden or temporary files (``.*``,
``*.part``, ``*.tmp``, ``*.crdownload``, ``~$*``) are left alone, so a link planted in the
folder cannot make avflow archive (and then delete) a file from elsewhere. A file whose size or
modification time changed in the last ``settle`` seconds is left for the next scan.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from avflow import StepFailed
from avflow_archive.items import Incoming
from avflow_archive.params import DropFolderParams

_TEMPORARY = (".part", ".tmp", ".crdownload", ".download", ".partial", ".swp")


def folder_of(params: DropFolderParams, base: Path | None = None) -> Path:
    """The drop folder; a relative path is read from ``base`` (the client's workflows folder)."""
    folder = Path(params.folder).expanduser()
    if not folder.is_absolute():
        if base is None:
            raise StepFailed(f"drop folder {params.folder!r} must be an absolute path")
        folder = base / folder
    if not folder.is_dir():
        raise StepFailed(f"drop folder {folder} does not exist")
    return folder


def ignored(name: str) -> bool:
    """Names a drop folder never yields: hidden, temporary, or Office lock files."""
    return name.startswith((".", "~$")) or name.lower().endswith(_TEMPORARY)


def _walk(folder: Path, recursive: bool) -> Iterator[tuple[Path, os.stat_result]]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if ignored(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone since the listing
        if stat.S_ISDIR(st.st_mode):
            if recursive:
                yield from _walk(Path(entry.path), recursive)
        elif stat.S_ISREG(st.st_mode):
            yield Path(entry.path), st


def snapshot(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def settled_files(
    folder: Path, params: DropFolderParams, now: float | None = None
) -> list[Incoming]:
    """The files of the drop folder that are ready to file, oldest first."""
    now = time.time() if now is None else now
    found = []
    for path, st in _walk(folder, params.recursive):
        if not any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in params.include):
            continue
        if now - st.st_mtime < params.settle:
            continue
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        found.append(
            (
                st.st_mtime_ns,
                Incoming(
                    path=path, name=path.name, origin="drop", date=when, snapshot=snapshot(st)
                ),
            )
        )
    found.sort(key=lambda pair: (pair[0], str(pair[1].path)))
    return [item for _, item in found[: params.max_files]]


def unchanged(item: Incoming) -> bool:
    """True if the drop file is still the very file that was read (same size, time, inode)."""
    try:
        st = os.lstat(item.path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and snapshot(st) == item.snapshot


def remove_source(item: Incoming) -> dict[str, object]:
    """Delete a drop file whose copy is durable in the archive, unless it changed meanwhile."""
    if not unchanged(item):
        if not item.path.exists():
            return {"removed": True, "note": "already gone"}
        return {"removed": False, "note": "changed after it was read: left for the next scan"}
    item.path.unlink()
    fd = os.open(item.path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return {"removed": True}


def overlaps(folder: Path, archive_root: Path) -> bool:
    """Whether a drop folder and a local archive contain one another (a loop, or deletions)."""
    a, b = Path(os.path.realpath(folder)), Path(os.path.realpath(archive_root))
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)
