"""Calendar backends: what the actions need of a calendar, and the local .ics file.

A backend answers busy time over a window, finds an event by UID, and creates an event with a
given UID only if no event has it (the calendar's own refusal of a second booking of a slot).
``lock()`` is held around a booking's re-check and its creation.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

import icalendar
from filelock import FileLock, Timeout

import avflow
from avflow import ClientInfo, StepFailed
from avflow_calendar import ical
from avflow_calendar.settings import IcsSettings
from avflow_calendar.slots import Busy

LOCK_TIMEOUT = 60.0
MAX_ICS = 64 * 1024 * 1024  # a calendar file larger than this is refused, not read into memory


class EventExists(Exception):
    """An event with that UID is already in the calendar (``event`` is it)."""

    def __init__(self, event: Any) -> None:
        super().__init__(str(event.get("UID", "")))
        self.event = event


class Backend(Protocol):
    name: str

    def busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]: ...
    def free_busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]: ...
    def get(self, uid: str) -> Any | None: ...
    def create(self, uid: str, event: icalendar.Event) -> None: ...
    def update(self, uid: str, event: icalendar.Event) -> None: ...
    def delete(self, uid: str) -> bool: ...
    def lock(self) -> contextlib.AbstractContextManager[Any]: ...
    def close(self) -> None: ...


def ics_path(settings: IcsSettings, client: ClientInfo) -> Path:
    """The .ics file of an account, confined to the client (`avflow.confine`: its folder, a
    relative path read from there, and its granted roots; never the home folder, another
    client's folder or roots, nor through a symbolic link)."""
    return avflow.confine(client, settings.path)


# Parsed files by (path, inode, mtime, size): a service asked every few minutes parses once.
_PARSED: dict[Path, tuple[tuple[int, int, int], Any]] = {}


class IcsBackend:
    """``type: ics``: a local file, changed only by atomic replacement under a lock file."""

    def __init__(self, name: str, settings: IcsSettings, client: ClientInfo) -> None:
        self.name = name
        self.path = ics_path(settings, client)
        self.create_missing = settings.create
        self._lock = FileLock(str(self.path.with_name(f".{self.path.name}.lock")))

    def _read(self) -> Any:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self.create_missing:
                return icalendar.Calendar.from_ical(_empty())
            raise StepFailed(
                f"calendar {self.name!r}: {self.path} does not exist (create: true makes it)"
            ) from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = _PARSED.get(self.path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            cal = ical.parse(self.read_raw(), str(self.path))
        except ValueError as exc:
            raise StepFailed(f"calendar {self.name!r}: {exc}") from None
        _PARSED[self.path] = (stamp, cal)
        return cal

    def busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        try:
            return ical.busy_of([self._near(start, end)], start, end, tz)
        except ical.CalendarDataError as exc:
            raise StepFailed(f"calendar {self.name!r}: {self.path}: {exc}") from None

    def _near(self, start: datetime, end: datetime) -> Any:
        """The calendar, parsed whole when cached, else only the events near the window."""
        hit = _PARSED.get(self.path)
        try:
            st = self.path.stat()
            if hit is not None and hit[0] == (st.st_ino, st.st_mtime_ns, st.st_size):
                return hit[1]
            raw = self.read_raw()
        except FileNotFoundError:
            return self._read()  # missing: created, or an error
        try:  # only the events near the window are parsed
            return ical.parse(ical.window(raw, start, end), str(self.path))
        except ValueError as exc:
            raise StepFailed(f"calendar {self.name!r}: {exc}") from None

    def read_raw(self) -> bytes:
        """The file's bytes: a regular file of at most `MAX_ICS` bytes (a FIFO would block every
        calendar step, a huge file fill the memory). FileNotFoundError when it is missing."""
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise StepFailed(
                    f"calendar {self.name!r}: {self.path} is a folder, not a .ics file"
                )
            if not stat.S_ISREG(st.st_mode):
                raise StepFailed(
                    f"calendar {self.name!r}: {self.path} is not a regular file (a FIFO or a "
                    "device): not read"
                )
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(MAX_ICS + 1) if st.st_size <= MAX_ICS else b""
        finally:
            os.close(fd)
        if st.st_size > MAX_ICS or len(data) > MAX_ICS:  # grown since: still too big
            size = max(st.st_size, len(data))
            raise StepFailed(
                f"calendar {self.name!r}: {self.path} is {size / 1e6:,.1f} MB; a .ics file is "
                f"read up to {MAX_ICS / 1e6:,.1f} MB (export a shorter period, or use the "
                "calendar through CalDAV or Google)"
            )
        return data

    def free_busy(self, start: datetime, end: datetime, tz: tzinfo) -> list[Busy]:
        return self.busy(start, end, tz)

    def get(self, uid: str) -> Any | None:
        for comp in self._read().walk("VEVENT"):
            if str(comp.get("UID", "")) == uid and comp.get("RECURRENCE-ID") is None:
                return comp
        return None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock.acquire(timeout=LOCK_TIMEOUT):
                yield
        except Timeout:
            raise StepFailed(
                f"calendar {self.name!r}: {self.path} stayed locked for {LOCK_TIMEOUT:.0f}s "
                "by another booking"
            ) from None

    def create(self, uid: str, event: icalendar.Event) -> None:
        """Add the event (the caller holds `lock`); refuses a UID already present."""
        existing = self.get(uid)
        if existing is not None:
            raise EventExists(existing)
        cal = self._read()
        _PARSED.pop(self.path, None)  # changed below: never serve it from the cache again
        if not cal.get("PRODID"):
            cal.add("PRODID", ical.PRODID)
        cal.add_component(event)
        _replace(self.path, cal.to_ical())

    def update(self, uid: str, event: icalendar.Event) -> None:
        """Replace the event with that UID (the caller holds `lock`)."""
        cal = self._read()
        _PARSED.pop(self.path, None)
        for i, comp in enumerate(cal.subcomponents):
            if str(comp.get("UID", "")) == uid and comp.get("RECURRENCE-ID") is None:
                cal.subcomponents[i] = event
                break
        else:
            raise StepFailed(f"calendar {self.name!r}: event {uid} is no longer there")
        _replace(self.path, cal.to_ical())

    def delete(self, uid: str) -> bool:
        """Remove the event (the caller holds `lock`); False if it was not there."""
        cal = self._read()
        keep = [c for c in cal.subcomponents if str(c.get("UID", "")) != uid]
        if len(keep) == len(cal.subcomponents):
            return False
        _PARSED.pop(self.path, None)
        cal.subcomponents[:] = keep
        _replace(self.path, cal.to_ical())
        return True

    def close(self) -> None:
        pass


def _empty() -> bytes:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{ical.PRODID}\r\nEND:VCALENDAR\r\n".encode()


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably, keeping the file's mode."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    avflow.atomic_write(path, data, mode)
