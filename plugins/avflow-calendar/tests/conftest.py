"""Fixtures for the calendar plugin's tests: clients with .ics calendars, and a Radicale server."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gcal_server import GoogleCalendarServer
from radicale_server import Radicale


@pytest.fixture(scope="session")
def radicale() -> Iterator[Radicale]:
    """One private Radicale for the session; each test makes calendars of its own."""
    root = Path(tempfile.mkdtemp(prefix="avflow-radicale-"))
    server = Radicale(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def google() -> Iterator[GoogleCalendarServer]:
    """A local Google Calendar v3 with three events on Tue 10 and Wed 11 March 2026."""
    server = GoogleCalendarServer()
    server.calendars["primary"].update(
        {
            "busy1": {
                "id": "busy1",
                "start": {"dateTime": "2026-03-10T09:00:00+01:00"},
                "end": {"dateTime": "2026-03-10T10:00:00+01:00"},
                "summary": "Dentist",
            },
            "free1": {
                "id": "free1",
                "transparency": "transparent",
                "start": {"dateTime": "2026-03-10T10:00:00+01:00"},
                "end": {"dateTime": "2026-03-10T11:00:00+01:00"},
            },
            "away": {"id": "away", "start": {"date": "2026-03-11"}, "end": {"date": "2026-03-12"}},
        }
    )
    yield server
    server.stop()
