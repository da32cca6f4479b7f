"""Which state.db commits are fsynced (docs/architecture.md, "Durability"): a commit made without
an fsync is always followed by an fsynced one before anything leaves the machine (an effect's
perform) and before the run returns; an effect's intent is fsynced before its perform."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import avflow
from avflow import state as state_module
from avflow.plugins import PluginManager
from avflow.testing import Harness


class NoParams(BaseModel):
    pass


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each state.db transaction as "durable" or "not durable", and "perform" for an effect; the
    audit trail's mark (written after the trail is sealed, see docs/audit.md) as "mark"."""
    seen: list[str] = []
    real, real_mark = state_module.State.tx, state_module.State.set_audit_mark
    marking = [False]

    @contextmanager
    def tx(self: Any, durable: bool = True) -> Iterator[Any]:
        with real(self, durable) as db:
            yield db
        seen.append("mark" if marking[0] else "durable" if durable else "not durable")

    def set_audit_mark(self: Any, *args: Any) -> None:
        marking[0] = True
        try:
            real_mark(self, *args)
        finally:
            marking[0] = False

    monkeypatch.setattr(state_module.State, "tx", tx)
    monkeypatch.setattr(state_module.State, "set_audit_mark", set_audit_mark)
    return seen


def _harness(tmp_path: Path, seen: list[str]) -> Harness:
    def send(ctx: Any, params: NoParams) -> dict[str, Any]:
        for n in range(2):
            ctx.effect(f"send-{n}", f"send {n}", lambda: seen.append("perform") or {"ok": True})
        return {}

    class Plugin:
        @avflow.hookimpl
        def register_actions(self, register: Callable[[avflow.Action[Any]], None]) -> None:
            register(avflow.Action("test.send", NoParams, send))

    h = Harness(tmp_path, pm=PluginManager(autoload=False, extra=[("send", Plugin())]))
    h.client("acme")
    return h


def _covered(seen: list[str]) -> None:
    """Every commit without an fsync is followed by an fsynced one before a perform and at the end."""
    pending = False
    for event in seen:
        if event == "perform":
            assert not pending, seen
        elif event == "not durable":
            pending = True
        elif event == "durable":
            pending = False
    assert not pending, seen


def test_a_run_without_effects_fsyncs_once_at_its_end(tmp_path: Path, commits: list[str]) -> None:
    h = _harness(tmp_path, commits)
    h.workflow("acme", "hello", {"steps": [{"uses": "core.log", "with": {"message": "hi"}}]})
    _ = h.app.engine  # state.db and its tables made before anything is counted
    start = len(commits)
    assert h.run("acme/hello").ok
    run = [c for c in commits[start:] if c != "mark"]
    assert run.count("durable") == 1 and run[-1] == "durable", run
    assert "not durable" in run  # the run's and the step's rows, covered by the end
    _covered(run)


def test_every_perform_follows_an_fsynced_intent(tmp_path: Path, commits: list[str]) -> None:
    h = _harness(tmp_path, commits)
    h.workflow("acme", "send", {"steps": [{"uses": "test.send"}, {"uses": "test.send"}]})
    _ = h.app.engine
    start = len(commits)
    assert h.run("acme/send").ok
    run = [c for c in commits[start:] if c != "mark"]
    assert run.count("perform") == 2, run  # the second step finds both effects done
    for i, event in enumerate(run):
        if event == "perform":
            assert run[i - 1] == "durable", run  # the intent, fsynced, right before
    _covered(run)
