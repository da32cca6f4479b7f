"""Fixtures for the calendar plugin's tests: clients with .ics calendars, and a Radicale server."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from radicale_server import Radicale


@pytest.fixture(scope="session")
def radicale() -> Iterator[Radicale]:
    """One private Radicale for the session; each test makes calendars of its own."""
    root = Path(tempfile.mkdtemp(prefix="avflow-radicale-"))
    server = Radicale(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
