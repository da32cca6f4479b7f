"""``type: local``: an archive that is a folder on this machine.

Writes go to a hidden temporary file in the destination folder, are fsynced, then published
with ``link()``, which fails if the name is taken: a filed document is never replaced, even by
a concurrent writer. The folder is fsynced after, so the new name survives a power cut; when
filing in batches, once per folder per batch (`flush`), before anything depends on it.

A batch's temporary files are written and fsynced by a few threads at once (`stage`), before
its files are published one by one in order: every file still has its own fsync before its
name is linked, but the file system commits concurrent fsyncs together (one journal commit for
several files), where one after the other each waits for a commit of its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from avflow_archive.backends.base import ABSENT, CHUNK, Absent, Existing, Store, partial_name
from avflow_archive.source import Source, SourceChanged

SYNC_THREADS = 4  # concurrent writes and fsyncs of a batch (8 measured no faster, more CPU)


def fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LocalStore(Store):
    """A local folder as an archive root."""

    def __init__(self, root: Path, retention_years: int = 0) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self._root = str(self.real_root)
        self.label = f"local:{root}"
        self.retention_years = retention_years
        self.batching = False
        self.group_effects = True  # fsync-bound: one ledger intent per batch, not per file
        self.unsynced: set[str] = set()
        self._threads: ThreadPoolExecutor | None = None
        self._staged: dict[str, tuple[Future[None], Source]] = {}  # temporary file -> its write

    def _full(self, rel: PurePosixPath) -> str:
        return os.path.join(self._root, *rel.parts)

    def inside(self, rel: PurePosixPath) -> bool:
        # ``rel`` is clean (no ``..``, no empty part), so it can leave the root only through a
        # link: look at each of its parts that exists (one lstat each, not a realpath of the
        # root's every part) and resolve the whole path only when one is a link
        if rel.is_absolute() or ".." in rel.parts:
            return self._resolves_inside(rel)
        current = self._root
        for part in rel.parts:
            current += os.sep + part
            try:
                mode = os.lstat(current).st_mode
            except OSError:  # missing (or a parent is a file): nothing further to follow
                return True
            if stat.S_ISLNK(mode):
                return self._resolves_inside(rel)
        return True

    def _resolves_inside(self, rel: PurePosixPath) -> bool:
        real = os.path.realpath(self.real_root / rel)
        return os.path.commonpath([real, self._root]) == self._root

    def stat(self, rel: PurePosixPath) -> Existing | Absent:
        try:
            st = os.lstat(self._full(rel))
        except FileNotFoundError:
            return ABSENT
        except NotADirectoryError:
            return Existing(None, is_dir=True)  # a parent is a file: the name cannot be used
        if stat.S_ISREG(st.st_mode):
            return Existing(st.st_size)
        return Existing(None, is_dir=True)  # a folder, a symlink, a device: taken, not ours

    def read_chunks(self, rel: PurePosixPath) -> Iterator[bytes]:
        with open(self._full(rel), "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def _makedirs(self, folder: Path) -> None:
        missing = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
                d.mkdir()
            fsync_dir(d.parent)
        if not folder.is_dir():
            raise FileExistsError(f"{folder} is not a folder")

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="archive-sync")
        return self._threads

    def stage(self, rel: PurePosixPath, source: Source, token: str) -> None:
        """Start writing and fsyncing ``source``'s temporary file for ``rel`` in a thread;
        `put` of the same name and token publishes it (a name not put is discarded by
        `discard_staged`). Nothing is visible under a document's name until `put`."""
        tmp = os.path.join(os.path.dirname(self._full(rel)), partial_name(token))
        if tmp not in self._staged:
            self._staged[tmp] = (self._pool().submit(self._write_tmp, tmp, source, rel), source)

    def discard_staged(self) -> None:
        """Remove the temporary files staged but not put (a file that failed, a duplicate)."""
        staged, self._staged = self._staged, {}
        for tmp, (future, _) in staged.items():
            with contextlib.suppress(Exception):
                future.result()
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _write_tmp(self, tmp: str, source: Source, rel: PurePosixPath) -> None:
        """Write ``source`` to the new file ``tmp`` (making its folder if need be), fsynced."""
        try:
            fd = os.open(tmp, _CREATE, 0o600)
        except FileNotFoundError:  # its folder is missing: make it (and fsync its parent)
            try:
                self._makedirs(Path(tmp).parent)
            except (FileExistsError, NotADirectoryError):
                raise FileExistsError(str(rel)) from None
            fd = os.open(tmp, _CREATE, 0o600)
        except NotADirectoryError:  # a part of the folder is a file
            raise FileExistsError(str(rel)) from None
        except FileExistsError:  # left by an interrupted attempt (maybe read-only)
            os.unlink(tmp)
            fd = os.open(tmp, _CREATE, 0o600)
        try:
            copied = source.copy_to(fd)
            os.fsync(fd)
            os.fchmod(fd, 0o444 if self.retention_years else 0o644)
        finally:
            os.close(fd)
        if copied != source.size or source.changed():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise SourceChanged("the file changed while it was being copied")

    def put(self, rel: PurePosixPath, source: Source, sha256: str, token: str, mime: str) -> None:
        dest = self._full(rel)
        folder = os.path.dirname(dest)
        tmp = os.path.join(folder, partial_name(token))
        staged = self._staged.pop(tmp, None)
        if staged is not None and staged[1] is source:
            staged[0].result()  # written and fsynced by a thread meanwhile
        else:
            if staged is not None:
                with contextlib.suppress(Exception):
                    staged[0].result()
            self._write_tmp(tmp, source, rel)
        try:
            os.link(tmp, dest)
        except FileExistsError:
            os.unlink(tmp)
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
                raise
            # no hard links here (some network shares): check, then rename
            if os.path.lexists(dest):
                os.unlink(tmp)
                raise FileExistsError(str(rel)) from None
            os.rename(tmp, dest)
        else:
            os.unlink(tmp)
        if self.batching:
            self.unsynced.add(folder)  # fsynced once for the whole batch, by flush()
        else:
            fsync_dir(folder)

    def flush(self) -> None:
        """Make the names written since the last flush durable: one fsync per folder (the
        folders of a batch at once)."""
        folders, self.unsynced = sorted(self.unsynced), set()
        if len(folders) < 2:
            for folder in folders:
                fsync_dir(folder)
            return
        syncs = [self._pool().submit(fsync_dir, folder) for folder in folders]
        errors = [e for e in (s.exception() for s in syncs) if e is not None]
        if errors:
            raise errors[0]

    def close(self) -> None:
        self.discard_staged()
        if self._threads is not None:
            self._threads.shutdown()
            self._threads = None

    def discard_partial(self, rel: PurePosixPath, token: str) -> None:
        tmp = os.path.join(os.path.dirname(self._full(rel)), partial_name(token))
        staged = self._staged.pop(tmp, None)
        if staged is not None:
            with contextlib.suppress(Exception):
                staged[0].result()  # its thread may still be writing it
        if os.path.isfile(tmp):
            os.unlink(tmp)
