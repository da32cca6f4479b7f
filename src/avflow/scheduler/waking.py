"""Sleeping until the next due time or event.

The service's main loop waits with `Waker.wait`: a ``select`` on a pipe, woken by a byte written
from a signal handler (``signal.set_wakeup_fd``), a finished run, a file change or a trigger
event. No polling loop: an idle service wakes only when something is due, and at most once per
heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from avflow.clock import Clock


class Waker:
    """A pipe the main loop sleeps on; anything may write a byte to wake it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # a full or closed pipe: the loop is awake anyway
            os.write(self.wfd, b"!")

    def wait(self, seconds: float, *, busy: bool = False) -> None:
        """Sleep up to ``seconds`` of the clock's time, or until woken; ``busy``: runs in flight.

        How time passes while waiting is the clock's business (`avflow.clock`).
        """
        self.clock.wait_readable(self.rfd, seconds, busy=busy)
        self._drain()

    def _drain(self) -> bool:
        got = False
        while True:
            try:
                data = os.read(self.rfd, 4096)
            except BlockingIOError:
                return got
            if not data:
                return got
            got = True

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            with contextlib.suppress(OSError):
                os.close(fd)


def until(now: datetime, when: datetime | None, cap: float) -> float:
    """Seconds from ``now`` to ``when``, at most ``cap``."""
    if when is None:
        return cap
    return max(0.0, min(cap, (when - now) / timedelta(seconds=1)))


def install_signals(
    on_stop: Callable[..., None], on_reload: Callable[[], None], waker: Waker
) -> dict[int, Any] | None:
    """SIGTERM/SIGINT -> ``on_stop``, SIGHUP -> ``on_reload``; every signal wakes ``waker``.

    Only in the main thread (elsewhere, e.g. a test, nothing is installed). Returns what to restore.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    saved: dict[int, Any] = {
        sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, lambda *_: on_reload())
    saved[-1] = signal.set_wakeup_fd(waker.wfd, warn_on_full_buffer=False)
    return saved


def restore_signals(saved: dict[int, Any] | None) -> None:
    if saved is None:
        return
    signal.set_wakeup_fd(saved.pop(-1))
    for sig, handler in saved.items():
        signal.signal(sig, handler)
