"""Small filesystem helpers: private files and folders, durable atomic writes, advisory locks.

Everything avflow creates under its home folder goes through `private_dir`, `private_open`,
`private_file` or `atomic_write`: folders 0700 and files 0600 whatever the umask (the mode is
set with ``fchmod``/``chmod`` after creation, as the umask only ever removes bits).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Make ``path`` (and its missing parents) as folders only their owner can enter: 0700.

    Folders that exist already keep their mode (the home folder may be the user's choice)."""
    missing = []
    current = Path(path)
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue  # made meanwhile by another process
        os.chmod(d, PRIVATE_DIR)
    return path


def private_open(path: str | os.PathLike[str], flags: int = os.O_RDWR) -> int:
    """``os.open`` a file of the home folder, creating it 0600 (and its folder 0700) if missing."""
    private_dir(Path(path).parent)
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o777 != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists as a file only its owner can read (before SQLite opens it:
    SQLite gives its -wal and -shm files the mode of the database file)."""
    os.close(private_open(path, os.O_RDONLY))
    return path


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never half."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextmanager
def replacing(output: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A file to write ``output`` (a file the user named: an export, a report) through: a temporary file beside it, renamed over it once
    whole. Interrupted (Ctrl-C, an error, a kill), ``output`` is what it was (or still absent):
    never the first part of one that looks whole. Its folder is made.

    A symbolic link stays one: the file it leads to is replaced. Something that is not a file
    (``/dev/null``, a FIFO, ``/dev/stdout``) is written to as it is, never replaced."""
    if os.path.exists(output) and not os.path.isfile(output):
        with open(output, "wb") if binary else open(output, "w", encoding="utf-8", newline="") as o:
            yield o
        return
    real = Path(os.path.realpath(output))
    real.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    try:
        umask = os.umask(0o077)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # the mode a plain open() would have given it
        f: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        )
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileLock:
    """An exclusive ``flock`` on a file; released by the kernel if the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[str] | None = None

    def acquire(self, blocking: bool = False) -> bool:
        f = os.fdopen(private_open(self.path, os.O_RDWR | os.O_APPEND), "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            f.close()
            return False
        self._f = f
        return True

    def release(self) -> None:
        if self._f is not None:
            fcntl.flock(self._f, fcntl.LOCK_UN)
            self._f.close()
            self._f = None

    def is_held_elsewhere(self) -> bool:
        """True if another process holds the lock now."""
        if self._f is not None:
            return False
        if self.acquire():
            self.release()
            return False
        return True

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
