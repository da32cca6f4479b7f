"""Fixtures for the audit tests: a harness with the demo plugin, and the real command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from avflow.clock import FakeClock
from avflow.plugins import PluginManager
from avflow.testing import Harness

PLUGINS = Path(__file__).parent / "plugins"
MAIL_WORKFLOW = {
    "name": "Inbox triage",
    "steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 2, "reply": True}}],
}


@dataclass
class Cli:
    """Exit code and output of one ``avflow`` command run in-process through its real entry point."""

    code: int
    out: str
    err: str


@pytest.fixture
def audit_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    h = Harness(
        tmp_path,
        pm=PluginManager(autoload=False, plugins_dirs=[PLUGINS]),
        clock=FakeClock("2026-01-31T22:00:00+00:00"),
    )
    yield h
    if h._app is not None and "state" in vars(h._app):
        h._app.state.close()


def avflow(h: Harness, *args: str, input: str | None = None) -> Cli:
    """Run ``avflow --workflows … --home … ARGS`` through `avflow.cli.main`, as the shell would."""
    from avflow.cli import main

    runner = CliRunner()
    argv = [
        "--workflows",
        str(h.workflows),
        "--home",
        str(h.home),
        "--plugins-dir",
        str(PLUGINS),
        *args,
    ]
    with runner.isolation(input=input) as streams:
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return Cli(code, out, err)


@pytest.fixture
def cli(audit_harness: Harness) -> Callable[..., Cli]:
    """``cli("audit", "verify", "acme")`` runs the command against the harness's folders."""
    return partial(avflow, audit_harness)


def trail_files(h: Harness, client: str) -> list[Path]:
    return sorted((h.home / "audit" / client).glob("[0-9]*.jsonl"))


@pytest.fixture
def files() -> Callable[[Harness, str], list[Path]]:
    return trail_files
