"""Fixtures of the dashboard tests: a harness with clients and runs, and a logged-in client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCHED = Path(__file__).resolve().parents[1] / "scheduler"
sys.path.insert(0, str(SCHED))  # sched_helpers: the real `avflow run` process of the tests
sys.path.insert(0, str(Path(__file__).parent))  # dashboard_testkit

from dashboard_testkit import log_in, make_client  # noqa: E402


@pytest.fixture
def h(tmp_path: Path) -> Iterator[object]:
    """A harness with the core's actions and the scheduler tests' fx plugin (effects)."""
    from avflow import redact
    from avflow.plugins import PluginManager
    from avflow.testing import Harness

    redact.forget_all()
    harness = Harness(tmp_path, pm=PluginManager(autoload=False, plugins_dirs=[SCHED / "plugins"]))
    yield harness
    if harness._app is not None and "state" in vars(harness._app):
        harness._app.state.close()


@pytest.fixture
def web(h: object) -> object:
    return make_client(h)


@pytest.fixture
def logged(web: object) -> object:
    log_in(web)
    return web


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workflows folder and a home, for a real ``avflow run`` process."""
    (tmp_path / "workflows").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path


@pytest.fixture
def services() -> Iterator[list[object]]:
    """Services a test started; any still running at the end is killed."""
    started: list[object] = []
    yield started
    for s in started:
        if s.proc.poll() is None:  # type: ignore[attr-defined]
            s.kill()  # type: ignore[attr-defined]
