"""Drop folders: the files a scanner (or a person) left there, once they have settled.

Only regular files are taken: symbolic links, devices and hidden or temporary files (``.*``,
``*.part``, ``*.tmp``, ``*.crdownload``, ``~$*``) are left alone, so a link planted in the
folder cannot make avflow archive (and then delete) a file from elsewhere. A file whose size or
modification time changed in the last ``settle`` seconds (as this step saw it: the time each
file was first seen unchanged is kept between scans) is left for the next scan.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import avflow
from avflow import ClientInfo
from avflow_archive.incoming import Incoming
from avflow_archive.params import DropFolderParams

SHORT_WAIT = 10.0  # seconds a scan may wait for files it sees for the first time
_TEMPORARY = (".part", ".tmp", ".crdownload", ".download", ".partial", ".swp")


def folder_of(params: DropFolderParams, client: ClientInfo) -> Path:
    """The drop folder, confined to the client (`avflow.confined_folder`: its folder and granted
    roots, never the home folder or another client's; a relative path is read from its folder)."""
    return avflow.confined_folder(client, params.folder)


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


def signature(st: os.stat_result) -> str:
    """What must not change while a file settles: size, modification time, device, inode."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_dev}:{st.st_ino}"


class SettleBook(Protocol):
    """Where the time each file was first seen unchanged is kept between scans (the index)."""

    def observe(
        self, folder: bytes, seen: dict[bytes, str], now: float, write: bool
    ) -> dict[bytes, float]: ...


def vouched_by(event: Mapping[str, Any] | None, folder: Path) -> set[tuple[str, str]]:
    """Files the ``archive.new_file`` trigger watched settle, as (path, signature)."""
    if not event or event.get("folder") != str(folder):
        return set()
    out = set()
    for f in event.get("files") or ():
        if isinstance(f, Mapping) and isinstance(f.get("signature"), str):
            out.add((str(f.get("path")), f["signature"]))
    return out


def settled_files(
    folder: Path,
    params: DropFolderParams,
    book: SettleBook | None,
    now: float,
    *,
    vouched: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
    write: bool = True,
) -> list[Incoming]:
    """The files of the drop folder that are ready to file, oldest first.

    A file is ready once it has been seen unchanged (size, modification time, inode) for
    ``settle`` seconds, by this step's earlier scans (``book``, kept between runs) or by the
    trigger that started the run (``vouched``). Its modification time is never compared with
    the clock: a scanner with a clock ahead or behind does not change when a file is taken.
    """
    listing = [
        (path, st)
        for path, st in _walk(folder, params.recursive)
        if any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in params.include)
    ]
    first_seen: dict[bytes, float] = {}
    if params.settle > 0 and book is not None:
        sigs = {os.fsencode(path): signature(st) for path, st in listing}
        first_seen = book.observe(os.fsencode(folder), sigs, now, write)
    ready, waiting = [], []
    for path, st in listing:
        if params.settle > 0 and (str(path), signature(st)) not in vouched:
            remaining = params.settle - (now - first_seen.get(os.fsencode(path), now))
            if remaining > 0:
                waiting.append((path, st, remaining))
                continue
        ready.append((path, st))
    ready += _wait_briefly(waiting)
    found = []
    for path, st in ready:
        when = datetime.fromtimestamp(st.st_mtime, UTC)
        item = Incoming(
            path=path,
            name=path.name,
            origin="drop",
            date=when,
            snapshot=snapshot(st),
            identity=(st.st_dev, st.st_ino),
        )
        found.append((st.st_mtime_ns, item))
    found.sort(key=lambda pair: (pair[0], str(pair[1].path)))
    return [item for _, item in found[: params.max_files]]


def _wait_briefly(
    waiting: list[tuple[Path, os.stat_result, float]],
) -> list[tuple[Path, os.stat_result]]:
    """Files that settle within `SHORT_WAIT` seconds: waited for here, then taken if unchanged.

    So a scan run by hand (or the first scan of files already there) files what is ready
    without a second run; a longer settle time is left to the next scans.
    """
    short = [(path, st, left) for path, st, left in waiting if left <= SHORT_WAIT]
    if not short:
        return []
    time.sleep(max(left for _, _, left in short))
    out = []
    for path, st, _ in short:
        try:
            again = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(again.st_mode) and signature(again) == signature(st):
            out.append((path, st))
    return out


def unchanged(item: Incoming) -> bool:
    """True if the drop file is still the very file that was read (same size, time, inode)."""
    try:
        st = os.lstat(item.path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and snapshot(st) == item.snapshot


def remove_source(item: Incoming, unsynced: set[Path] | None = None) -> dict[str, object]:
    """Delete a drop file whose copy is durable in the archive, unless it changed meanwhile."""
    if not unchanged(item):
        if not item.path.exists():
            return {"removed": True, "note": "already gone"}
        return {"removed": False, "note": "changed after it was read: left for the next scan"}
    item.path.unlink()
    if unsynced is None:
        sync_folders({item.path.parent})
    else:
        unsynced.add(item.path.parent)  # the caller fsyncs the folder once for its batch
    return {"removed": True}


def sync_folders(folders: set[Path]) -> None:
    """fsync each folder once (the removals of a batch made durable)."""
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def overlaps(folder: Path, archive_root: Path) -> bool:
    """Whether a drop folder and a local archive contain one another (a loop, or deletions)."""
    a, b = Path(os.path.realpath(folder)), Path(os.path.realpath(archive_root))
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)
