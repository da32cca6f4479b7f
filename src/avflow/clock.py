"""Time, injected: the real clock in production; tests and benchmarks pass another one in.

The clock decides how the service waits (`Clock.wait_readable`), so the service has no branch
for test clocks: `FakeClock` moves only when told to (or when the service is idle), and
`ShiftedClock` is real time started at a chosen instant, optionally running faster.
See docs/architecture.md.
"""

from __future__ import annotations

import select
import threading
import time
from datetime import UTC, datetime, timedelta

FAKE_IDLE = 0.05  # FakeClock: real seconds of quiet before simulated time moves on
FAKE_HOLD = 1.0  # FakeClock with runs in flight: real seconds between checks (a run wakes us)


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        if wake is not None:
            wake.wait(seconds)
        else:
            time.sleep(seconds)

    def span(self, real_seconds: float) -> float:
        """How many of this clock's seconds pass in ``real_seconds`` of real time."""
        return real_seconds

    def wait_readable(self, fd: int, seconds: float, *, busy: bool = False) -> None:
        """Wait up to ``seconds`` of this clock's time, or until ``fd`` is readable."""
        _select_until(fd, seconds)


def _select_until(fd: int, seconds: float) -> None:
    if seconds <= 0:
        return
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            return


class ShiftedClock(Clock):
    """Real time, shifted so that it read ``start`` when it was made, running ``rate`` times
    faster (tests and benchmarks of a real ``avflow`` process pass one to `avflow.cli.main`)."""

    def __init__(self, start: datetime | str, rate: float = 1.0) -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs an aware datetime")
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()
        self.rate = rate if rate > 0 else 1.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.rate)

    def span(self, real_seconds: float) -> float:
        return real_seconds * self.rate

    def wait_readable(self, fd: int, seconds: float, *, busy: bool = False) -> None:
        _select_until(fd, seconds / self.rate)


class FakeClock(Clock):
    """A clock that moves only when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime | str = "2026-01-05T09:00:00+00:00") -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime | str) -> None:
        self._now = (datetime.fromisoformat(when) if isinstance(when, str) else when).astimezone(
            UTC
        )

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kw)
        return self._now

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def span(self, real_seconds: float) -> float:
        return 86400.0  # simulated time does not follow real time: jump to what is due next

    def wait_readable(self, fd: int, seconds: float, *, busy: bool = False) -> None:
        """Simulated time passes only when the service is quiet: ``busy`` (runs in flight) holds
        it still until something wakes us, so a test sees the same firings however slow the
        machine is."""
        ready, _, _ = select.select([fd], [], [], FAKE_HOLD if busy else FAKE_IDLE)
        if not ready and not busy:
            self.sleep(max(0.0, seconds))
