"""Fixtures for the scheduler tests (helpers live in sched_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sched_helpers import ServiceProc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path


@pytest.fixture
def services() -> Iterator[list[ServiceProc]]:
    started: list[ServiceProc] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.kill()
