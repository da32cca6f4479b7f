"""Effect batches (`avflow.ledger_batch`): intents committed many at a time, the exactly-once
protocol unchanged. A real ``avflow`` process is killed with SIGKILL mid-batch; after the resume
every effect was performed exactly once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import avflow
from avflow.plugins import PluginManager
from avflow.state import State
from avflow.testing import Harness

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"
ALL = [f"a{i}.txt" for i in range(1, 8)]


def avflow_cli(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avflow", "--workflows", str(tmp_path / "workflows"),
         "--home", str(tmp_path / "home"), "--plugins-dir", str(PLUGINS_DIR), *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **env},
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    out = tmp_path / "out"
    (client / "write.yaml").write_text(
        "steps:\n  - id: write\n    uses: crashy.write\n"
        f"    with: {{ folder: {out}, count: 7, prefix: a, batch: 3 }}\n"
    )
    return tmp_path


def performed(tmp_path: Path) -> list[str]:
    log = tmp_path / "out" / "performed.log"
    return log.read_text().split() if log.exists() else []


@pytest.mark.parametrize(
    ("var", "k", "before_kill"),
    [
        ("CRASHY_KILL_START", "1", []),  # the first chunk's intents durable, nothing performed
        ("CRASHY_KILL_START", "2", ALL[:1]),  # mid-chunk: a2, a3 claimed, a2 not written
        ("CRASHY_KILL_AFTER", "3", ALL[:3]),  # the chunk's last, performed, outcome not recorded
        ("CRASHY_KILL_BEFORE", "4", ALL[:3]),  # between two chunks
        ("CRASHY_KILL_AFTER", "5", ALL[:5]),  # inside the second chunk
        ("CRASHY_KILL_END", "a", ALL),  # every outcome recorded, the step not saved
    ],
)
def test_sigkill_mid_batch_then_resume_performs_each_effect_once(
    project: Path, var: str, k: str, before_kill: list[str]
) -> None:
    killed = avflow_cli(project, "trigger", "acme/write", env={var: k})
    assert killed.returncode == -9, killed.stderr
    assert performed(project) == before_kill
    resumed = avflow_cli(project, "resume", env={})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert Counter(performed(project)) == Counter(ALL), "an effect was repeated or lost"
    again = avflow_cli(project, "trigger", "acme/write", env={})  # a new run: all done before?
    assert again.returncode == 0 and Counter(performed(project))["a1.txt"] == 2  # run-scoped keys


class NoParams(BaseModel):
    pass


def batch_harness(tmp_path: Path, act: Any) -> Harness:
    class Plugin:
        @avflow.hookimpl
        def register_actions(self, register: Any) -> None:
            register(avflow.Action("batch.make", NoParams, act))

    h = Harness(tmp_path, pm=PluginManager(autoload=False, extra=[("batch", Plugin())]))
    h.client("acme")
    h.workflow("acme", "make", {"steps": [{"id": "make", "uses": "batch.make"}]})
    return h


def rows(h: Harness) -> dict[str, str]:
    db = sqlite3.connect(h.home / "state.db")
    try:
        return dict(db.execute("SELECT key, status FROM effects").fetchall())
    finally:
        db.close()


def test_intents_are_committed_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, dict[str, str]] = {}
    commits: list[int] = []
    tx = State.tx

    def counting(self: State, durable: bool = True) -> Any:
        if durable:
            commits.append(1)
        return tx(self, durable)

    def act(ctx: avflow.StepContext, params: NoParams) -> dict[str, Any]:
        plan = [(f"k{i}", f"effect {i}") for i in range(5)]
        out = []
        with ctx.effect_batch(plan, chunk=2, scope="client") as batch:
            for key, _ in plan:
                before = len(commits)

                def perform(key: str = key) -> str:
                    seen[key] = rows(h)  # what another process would read now
                    return key.upper()

                out.append(batch.effect(key, f"effect {key}", perform, scope="client"))
                out.append(len(commits) - before)
        return {"out": out}

    h = batch_harness(tmp_path, act)
    _ = h.app.project
    monkeypatch.setattr(State, "tx", counting)
    result = h.run("acme/make")
    assert result.ok, result.error
    # k0 and k2 and k4 open a chunk: one durable commit each; the others none of their own
    assert result.outputs["make"]["out"] == ["K0", 1, "K1", 0, "K2", 1, "K3", 0, "K4", 1]
    assert seen["k0"] == {"k0": "pending", "k1": "pending"}  # claimed ahead, before its turn
    assert seen["k1"] == {"k0": "done", "k1": "pending"}
    assert rows(h) == {f"k{i}": "done" for i in range(5)}
    intents = [r["effect"] for r in result.audit if r["event"] == "effect.intent"]
    assert intents == [f"k{i}" for i in range(5)]


def test_planned_effects_not_performed_are_released(tmp_path: Path) -> None:
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        plan = [("a", "effect a"), ("b", "effect b"), ("c", "effect c")]
        with ctx.effect_batch(plan, scope="client") as batch:
            batch.effect("a", "effect a", lambda: calls.append("a"), scope="client")
            # "b" is skipped this time (a rate limit, a quiet window...), "c" is performed
            batch.effect("c", "effect c", lambda: calls.append("c"), scope="client")

    h = batch_harness(tmp_path, act)
    result = h.run("acme/make")
    assert result.ok, result.error
    assert calls == ["a", "c"] and rows(h) == {"a": "done", "c": "done"}  # b: no row left
    assert [r["effect"] for r in result.audit if r["event"] == "effect.intent"] == ["a", "c"]


def test_a_released_failed_effect_keeps_its_failure_and_is_tried_again(tmp_path: Path) -> None:
    attempt: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        attempt.append(1)
        with ctx.effect_batch([("x", "x"), ("y", "y")], scope="client") as batch:
            if len(attempt) == 1:

                def refuse() -> None:
                    raise avflow.EffectFailed("refused")

                batch.effect("y", "y", refuse, scope="client")
            elif len(attempt) == 2:
                batch.effect("x", "x", lambda: "x", scope="client")  # y not performed now
            else:
                batch.effect("y", "y", lambda: "y", scope="client")

    h = batch_harness(tmp_path, act)
    assert not h.run("acme/make").ok and rows(h) == {"y": "failed"}
    assert h.run("acme/make").ok and rows(h) == {"x": "done", "y": "failed"}  # as it was
    assert h.run("acme/make").ok and rows(h) == {"x": "done", "y": "done"}


def test_done_and_unknown_effects_take_the_single_path(tmp_path: Path) -> None:
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> dict[str, Any]:
        def perform(key: str) -> Any:
            calls.append(key)
            if key == "u" and calls.count("u") == 1:
                raise TimeoutError("answer lost")
            return key

        with ctx.effect_batch([("d", "d"), ("u", "u")], scope="client") as batch:
            got = [batch.effect("d", "d", lambda: perform("d"), scope="client")]
            try:
                got.append(
                    batch.effect(
                        "u", "u", lambda: perform("u"), reconcile=lambda: None, scope="client"
                    )
                )
            except TimeoutError:
                got.append("lost")
        return {"out": got}

    h = batch_harness(tmp_path, act)
    first = h.run("acme/make")
    assert first.outputs["make"]["out"] == ["d", "lost"]
    assert rows(h) == {"d": "done", "u": "unknown"}
    second = h.run("acme/make")
    assert second.outputs["make"]["out"] == ["d", "u"] and calls == ["d", "u", "u"]
    reconciled = [r for r in second.audit if r["event"] == "effect.reconciled"]
    assert [r["effect"] for r in reconciled] == ["u"]


def test_a_dry_run_batch_performs_nothing(tmp_path: Path) -> None:
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        with ctx.effect_batch([("a", "a")], scope="client") as batch:
            batch.effect("a", "a", lambda: calls.append("a"), scope="client")

    h = batch_harness(tmp_path, act)
    result = h.run("acme/make", dry_run=True)
    assert result.ok and calls == [] and rows(h) == {}
    assert [e.status for e in result.effects] == ["dry-run"]
