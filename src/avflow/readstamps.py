"""What one load of a workflows folder read, stamped, so that a file watcher set up after the
load can tell whether anything changed in between (docs/architecture.md, docs/operations.md).

The service starts watching once the files are read: watching while reading woke the watcher's
thread at every file opened (inotify's ``IN_OPEN``, 11,000 times for 10,000 workflows), about a
fifth of the start's CPU. Nothing slips through instead: `ReadStamps` keeps each file's inode,
size and ``st_ctime_ns`` as read, and each folder's before it is listed; `changed` (called once
the watches are set up) compares them with the files and folders as they are then.

The kernel sets ``st_ctime`` to the current time (its coarse clock, a few milliseconds behind)
at any change of content, metadata or, for a folder, entries; no program can set it. A file
whose ``st_ctime`` was more than `MARGIN_NS` before the load started and is the same after the
watch is set up was therefore not changed in between. A newer stamp proves nothing (a second
change in the same clock tick keeps it): such a file is read again and its text compared, such a
folder listed again and its names compared. Any difference, a file or folder gone or replaced
(another inode), asks for a reload, as an event of the watcher would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

MARGIN_NS = 2_000_000_000  # far more than the kernel's clock tick (1-10 ms)

_Stamp = tuple[int, int, int, object]  # inode, size, st_ctime_ns, text or names when recent


class ReadStamps:
    """The stamps of the files and folders under ``root`` that one load read."""

    __slots__ = ("files", "folders", "prefix", "since")

    def __init__(self, root: Path) -> None:
        self.prefix = os.path.join(str(root), "")
        self.since = time.time_ns() - MARGIN_NS  # a stamp from then on proves nothing
        self.files: dict[str, _Stamp] = {}
        self.folders: dict[str, _Stamp] = {}

    def file(self, path: Path, info: os.stat_result, text: str) -> None:
        """``path`` was read as ``text``; ``info`` is the open file's ``fstat``."""
        name = str(path)
        if name.startswith(self.prefix):  # what the watcher would see
            recent = text if info.st_ctime_ns >= self.since else None
            self.files[name] = (info.st_ino, info.st_size, info.st_ctime_ns, recent)

    def folder(self, path: Path, before: os.stat_result, names: Iterable[str]) -> None:
        """``path`` was listed as ``names``; ``before`` is its ``stat`` taken before listing."""
        recent = sorted(names) if before.st_ctime_ns >= self.since else None
        self.folders[str(path)] = (before.st_ino, 0, before.st_ctime_ns, recent)

    def changed(self) -> bool:
        """Whether any file or folder read may differ from what the load saw."""
        for name, (ino, size, ctime, text) in self.files.items():
            look = _look(name, ino, size, ctime, text is None)
            if look is _CHANGED or (look is _LOOK and _text(name, size) != text):
                return True
        for name, (ino, _, ctime, names) in self.folders.items():
            look = _look(name, ino, None, ctime, names is None)
            if look is _SAME:
                continue
            try:
                if look is _CHANGED or sorted(os.listdir(name)) != names:
                    return True
            except OSError:
                return True
        return False


_SAME, _LOOK, _CHANGED = "same", "look", "changed"
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _text(name: str, size: int) -> str | None:
    """The text of file ``name`` now (read past ``size`` by one byte at most), None if it
    cannot be read as it was (`avflow.yamlfile.read_text` read it)."""
    try:
        fd = os.open(name, _FLAGS)
    except OSError:
        return None
    try:
        data = b""
        while len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
            data += more
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def _look(name: str, ino: int, size: int | None, ctime: int, old: bool) -> str:
    """`_SAME` when ``name`` certainly did not change (same inode, size and an old
    ``st_ctime``), `_CHANGED` when it did (gone, replaced, or an old stamp that moved), `_LOOK`
    when only its content can tell (a recent stamp)."""
    try:
        info = os.stat(name, follow_symlinks=False)
    except OSError:
        return _CHANGED
    if info.st_ino != ino or (size is not None and info.st_size != size):
        return _CHANGED
    if not old:
        return _LOOK
    return _SAME if info.st_ctime_ns == ctime else _CHANGED


__all__ = ["MARGIN_NS", "ReadStamps"]
