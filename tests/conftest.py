"""Core test configuration. Core tests load no plugin but the core's own (and test ones)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")


def pytest_report_header() -> str:
    return f"avflow CI={os.environ.get('CI', '')!r}"
