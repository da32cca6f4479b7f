"""A file to file, opened once: every read (hash, sniff, text, copy) goes through one descriptor.

The file is opened with ``O_NOFOLLOW`` and, for a drop file, its device and inode are compared
with what the folder listing saw. A drop file swapped for a symbolic link (or for another file)
between the listing and the filing is refused, never followed: what is hashed, indexed and
copied is exactly the file that was listed.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from types import TracebackType

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the open
    | getattr(os, "O_NOCTTY", 0)
)


class SourceGone(Exception):
    """The file disappeared before it could be read (a drop file taken by someone else)."""


class SourceChanged(Exception):
    """The path no longer holds the file that was listed (a link, another file, a device)."""


class _PositionalReader(io.RawIOBase):
    """A read-only stream over a shared descriptor with its own position (``pread``)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = os.pread(self._fd, len(buffer), self._pos)
        n = len(data)
        memoryview(buffer)[:n] = data
        self._pos += n
        return n

    def close(self) -> None:  # the descriptor belongs to the Source
        super().close()


class Source:
    """One open file: its descriptor and the ``fstat`` taken when it was opened."""

    def __init__(self, path: Path, fd: int, st: os.stat_result) -> None:
        self.path = path
        self.fd = fd
        self.st = st

    @classmethod
    def open(cls, path: Path, expect: tuple[int, int] | None = None) -> Source:
        """Open ``path`` without following a link; ``expect`` is the listing's (device, inode)."""
        try:
            fd = os.open(path, _FLAGS)
        except FileNotFoundError:
            raise SourceGone(str(path)) from None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO):
                raise SourceChanged("it is now a symbolic link (or a socket)") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SourceChanged("it is no longer a regular file")
            if expect is not None and (st.st_dev, st.st_ino) != expect:
                raise SourceChanged("another file took its place after the folder was listed")
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, st)

    @property
    def size(self) -> int:
        return self.st.st_size

    def reader(self) -> io.BufferedReader:
        """A fresh buffered stream from the start of the file (independent of other readers)."""
        return io.BufferedReader(_PositionalReader(self.fd, self.size), 1 << 20)

    def copy_to(self, fd_out: int) -> int:
        """Copy the whole file into the descriptor ``fd_out``; return the bytes copied."""
        offset = 0
        try:
            while True:
                n = os.copy_file_range(self.fd, fd_out, 1 << 30, offset)
                if n == 0:
                    return offset
                offset += n
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (
                errno.EXDEV,
                errno.ENOSYS,
                errno.EOPNOTSUPP,
                errno.EINVAL,
            ):
                raise
        while chunk := os.pread(self.fd, 1 << 20, offset):  # no copy_file_range here
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd_out, view) :]
            offset += len(chunk)
        return offset

    def changed(self) -> bool:
        """Whether the file was written to since it was opened (size or modification time)."""
        now = os.fstat(self.fd)
        return (now.st_size, now.st_mtime_ns) != (self.st.st_size, self.st.st_mtime_ns)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
