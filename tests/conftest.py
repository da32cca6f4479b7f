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


PLUGINS_DIR = Path(__file__).parent / "plugins_dir"


@pytest.fixture
def harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A harness with only the core's plugin and the loose test plugins (no entry points)."""
    from avflow.plugins import PluginManager
    from avflow.testing import Harness

    h = Harness(tmp_path, pm=PluginManager(autoload=False, plugins_dirs=[PLUGINS_DIR]))
    yield h
    if h._app is not None and "state" in vars(h._app):
        h._app.state.close()
