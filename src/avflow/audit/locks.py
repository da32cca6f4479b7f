"""The lock every writer of one client's audit trail holds: a thread lock and an ``flock``
(docs/audit.md, "What is recorded")."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from avflow.fsutil import private_open

#: clients' ``.lock`` files a trail keeps open at most between records (runs writing at once)
OPEN_LOCKS = 64


class OpenLocks:
    """How many clients' ``.lock`` files a trail holds open, against a bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.guard = threading.Lock()

    def add(self, n: int) -> None:
        with self.guard:
            self.count += n


class ClientLock:
    """A thread lock plus an ``flock`` on the client's ``.lock`` file.

    The file is opened when the lock is taken and kept open only while a run writes: `sync`
    (the end of a run) closes it, and so does any release while more than the trail's bound of
    lock files are open, so a service with thousands of clients holds a few descriptors, not
    one per client. Reopened after a fork (the parent's descriptor shares its lock).
    """

    def __init__(self, path: Path, open_locks: OpenLocks | None = None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._fd = -1
        self._pid = 0
        self._open = open_locks or OpenLocks(OPEN_LOCKS)
        self._close_on_exit = False

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            if self._fd < 0 or self._pid != os.getpid():
                self._fd = private_open(self.path, os.O_RDWR)
                self._pid = os.getpid()
                self._open.add(1)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise

    def close_on_exit(self) -> None:
        """Close the file when the lock is released (the run's records are synced)."""
        self._close_on_exit = True

    def __exit__(self, *exc: object) -> None:
        try:
            if self._close_on_exit or self._open.count > self._open.limit:
                os.close(self._fd)  # releases the flock with it
                self._fd = -1
                self._open.add(-1)
            else:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._close_on_exit = False
            self.lock.release()

    def __del__(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
