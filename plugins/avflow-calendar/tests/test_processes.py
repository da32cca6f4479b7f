"""Real ``avflow`` processes: two bookings racing for one slot, and a SIGKILL mid-booking.

The .ics file is shared through its lock file; CalDAV through a lock per client calendar on
one machine and, between machines (two homes here), through the server's ``If-None-Match``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from calhelp import caldav_client, calendar_client
from filelock import FileLock
from radicale_server import Proxy, event_uids

AVFLOW = Path(sys.executable).parent / "avflow"
BOOK = {
    "account": "cal",
    "start": "2030-03-12T15:00",
    "duration_minutes": 30,
    "title": "Consulenza",
}


def avflow(h: Any, *args: str, home: Path | None = None) -> list[str]:
    return [
        str(AVFLOW),
        "--workflows",
        str(h.workflows),
        "--home",
        str(home or h.home),
        "--log-level",
        "warning",
        *args,
    ]


def wait(pred: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []


def ics_events(path: Path) -> list[str]:
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    return [str(e["UID"]) for e in cal.walk("VEVENT")]


def race(h: Any, homes: list[Path]) -> list[subprocess.CompletedProcess[str]]:
    """Two workflows (two requests for one slot: one workflow never runs twice at once)."""
    for name in ("book-a", "book-b"):
        h.workflow("acme", name, {"steps": [{"id": "b", "uses": "calendar.book", "with": BOOK}]})
    procs = [
        subprocess.Popen(
            avflow(h, "trigger", f"acme/{name}", home=home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, home in zip(("book-a", "book-b"), homes, strict=True)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def one_winner(results: list[subprocess.CompletedProcess[str]]) -> None:
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [(r.returncode, r.stdout, r.stderr) for r in results]
    loser = next(r for r in results if r.returncode == 1)
    assert "conflict" in loser.stdout + loser.stderr, loser.stdout + loser.stderr


def test_two_processes_race_for_one_slot_ics(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(
        h,
        "acme",
        "Europe/Rome",
        {"cal": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n"},
    )
    one_winner(race(h, [h.home, h.home]))
    assert len(ics_events(h.workflows / "acme" / "cal.ics")) == 1


@pytest.mark.parametrize("machines", [1, 2])
def test_two_processes_race_for_one_slot_caldav(avflow_harness, radicale, machines) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    url = radicale.new_calendar()
    caldav_client(h, "acme", "Europe/Rome", {"cal": url})
    homes = [h.home, h.home] if machines == 1 else [h.home, h.home.parent / "home2"]
    if machines == 2:  # a second machine: its own home, vault copied
        import shutil

        shutil.copytree(h.home, homes[1], ignore=shutil.ignore_patterns("state.db*"))
    one_winner(race(h, homes))
    assert len(event_uids(radicale.port, urlsplit(url).path)) == 1


def test_sigkill_while_booking_ics_then_resume(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(
        h,
        "acme",
        "Europe/Rome",
        {"cal": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n"},
    )
    h.workflow("acme", "book", {"steps": [{"id": "b", "uses": "calendar.book", "with": BOOK}]})
    cal = h.workflows / "acme" / "cal.ics"
    db = h.home / "state.db"
    # Hold the calendar's lock: avflow records its intent, then waits inside the booking.
    lock = FileLock(str(cal.with_name(".cal.ics.lock")))
    lock.acquire()
    proc = subprocess.Popen(avflow(h, "trigger", "acme/book"), stdout=subprocess.DEVNULL)
    try:
        wait(
            lambda: (
                query(db, "SELECT status FROM effects WHERE kind = 'calendar.book'")
                == [("pending",)]
            ),
            60,
            "the booking's intent",
        )
    finally:
        proc.kill()
        proc.wait()
        lock.release()
    assert ics_events(cal) == []
    resumed = subprocess.run(avflow(h, "resume"), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(ics_events(cal)) == 1
    assert query(db, "SELECT status FROM effects WHERE kind = 'calendar.book'") == [("done",)]


def test_sigkill_after_the_server_created_the_event_then_resume(avflow_harness, radicale) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    url = radicale.new_calendar()
    proxy = Proxy(radicale.port, hold_put=True)
    caldav_client(
        h, "acme", "Europe/Rome", {"cal": url.replace(f":{radicale.port}/", f":{proxy.port}/")}
    )
    h.workflow("acme", "book", {"steps": [{"id": "b", "uses": "calendar.book", "with": BOOK}]})
    db = h.home / "state.db"
    proc = subprocess.Popen(avflow(h, "trigger", "acme/book"), stdout=subprocess.DEVNULL)
    try:
        wait(proxy.put_done.is_set, 60, "the event to reach the server")
    finally:
        proc.kill()
        proc.wait()
    proxy.release()
    path = urlsplit(url).path
    assert len(event_uids(radicale.port, path)) == 1  # created; avflow never heard back
    assert query(db, "SELECT status FROM effects WHERE kind = 'calendar.book'") == [("pending",)]
    proxy.hold_put = False
    resumed = subprocess.run(avflow(h, "resume"), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(event_uids(radicale.port, path)) == 1
    assert query(db, "SELECT status FROM effects WHERE kind = 'calendar.book'") == [("done",)]
    assert proxy.requests.count("PUT") == 1  # the resume found the event, sent nothing again
    proxy.stop()
