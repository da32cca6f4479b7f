"""Sleeping until the next due time or event, and the test-only shifted clock.

The service's main loop waits with `Waker.wait`: a ``select`` on a pipe, woken by a byte written
from a signal handler (``signal.set_wakeup_fd``), a finished run, a file change or a trigger
event. No polling loop: an idle service wakes only when something is due, and at most once per
heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from avflow.clock import Clock, FakeClock

FAKE_NOW_ENV = "AVFLOW_FAKE_NOW"  # test-only: see docs/operations.md
RATE_ENV = "AVFLOW_CLOCK_RATE"  # test-only: simulated seconds per real second
FAKE_IDLE = 0.05  # with a FakeClock: real seconds of quiet before simulated time moves on
FAKE_HOLD = 1.0  # with a FakeClock and runs in flight: real seconds between checks (a run wakes us)


class ShiftedClock(Clock):
    """Real time, shifted so that it read ``start`` when the process began, optionally running
    ``rate`` times faster (test and benchmark use only)."""

    def __init__(self, start: datetime, rate: float = 1.0) -> None:
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()
        self.rate = rate

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.rate)


def clock_from_env() -> Clock:
    """The real clock, or a shifted one when ``AVFLOW_FAKE_NOW`` (an ISO time with offset) is set."""
    value = os.environ.get(FAKE_NOW_ENV)
    if not value:
        return Clock()
    from avflow.errors import UsageError

    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{FAKE_NOW_ENV}={value!r} is not an ISO time like 2026-03-29T01:00:00Z"
        ) from None
    if start.tzinfo is None:
        raise UsageError(f"{FAKE_NOW_ENV}={value!r} needs an offset (Z or +01:00)")
    try:
        rate = float(os.environ.get(RATE_ENV) or 1.0)
    except ValueError:
        raise UsageError(f"{RATE_ENV} must be a number") from None
    return ShiftedClock(start, rate if rate > 0 else 1.0)


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
        """Sleep up to ``seconds`` (a fake clock just advances), or until woken.

        With a fake clock, simulated time passes only when the service is quiet: ``busy`` (runs
        in flight) holds it still until something wakes us, so a run takes no simulated time and
        a test sees the same firings however slow the machine is.
        """
        if isinstance(self.clock, FakeClock):
            ready, _, _ = select.select([self.rfd], [], [], FAKE_HOLD if busy else FAKE_IDLE)
            if not ready and not busy:
                self.clock.sleep(max(0.0, seconds))
            self._drain()
            return
        seconds /= getattr(self.clock, "rate", 1.0)  # simulated seconds to real ones
        if seconds > 0:
            deadline = time.monotonic() + seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([self.rfd], [], [], left)
                if ready:
                    break
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
