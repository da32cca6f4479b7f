"""Time, injected: the real clock in production, a fake one in tests."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


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
