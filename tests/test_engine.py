"""The engine: steps, templates, conditions, retries, timeouts, outputs, the effect ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import avflow
from avflow.plugins import PluginManager
from avflow.testing import Harness, SimulatedCrash


class NoParams(BaseModel):
    pass


def action_harness(tmp_path: Path, name: str, run: Callable[..., Any]) -> Harness:
    """A harness with the core plus one action ``name`` (no parameters) defined by the test."""

    class Plugin:
        @avflow.hookimpl
        def register_actions(self, register: Callable[[avflow.Action[Any]], None]) -> None:
            register(avflow.Action(name, NoParams, run))

    return Harness(tmp_path, pm=PluginManager(autoload=False, extra=[(name, Plugin())]))


def test_steps_outputs_and_templates(harness: Harness) -> None:
    harness.client("acme", name="Acme S.r.l.", timezone="Europe/Rome")
    harness.workflow(
        "acme",
        "hello",
        {
            "steps": [
                {
                    "id": "data",
                    "uses": "core.set",
                    "with": {"values": {"names": ["a", "b"], "n": 2}},
                },
                {
                    "id": "count",
                    "uses": "core.set",
                    "with": {
                        "values": {
                            "names": "{{ steps.data.outputs.names }}",
                            "label": "{{ client.name }}: {{ steps.data.outputs.n }}",
                        }
                    },
                },
                {
                    "id": "log",
                    "uses": "core.log",
                    "if": "steps.count.outputs.names | length > 1",
                    "with": {"message": "{{ workflow.id }} for {{ client.id }}"},
                },
                {
                    "id": "never",
                    "uses": "core.log",
                    "if": "{{ steps.data.outputs.n > 5 }}",
                    "with": {"message": "x"},
                },
            ]
        },
    )
    result = harness.run("acme/hello")
    assert result.status == "succeeded", result.error
    assert result.outputs["count"] == {
        "names": ["a", "b"],
        "label": "Acme S.r.l.: 2",
    }  # list stays a list
    assert result.outputs["log"] == {"message": "hello for acme"}
    assert result.steps == {
        "data": "succeeded",
        "count": "succeeded",
        "log": "succeeded",
        "never": "skipped",
    }
    events = [r["event"] for r in result.audit]
    assert events[0] == "run.started" and events[-1] == "run.finished"
    assert "step.note" in events and "step.skipped" in events


def test_failure_stops_the_run_unless_continue_on_error(harness: Harness) -> None:
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {
            "steps": [
                {
                    "id": "a",
                    "uses": "core.fail",
                    "with": {"message": "first"},
                    "continue_on_error": True,
                },
                {"id": "b", "uses": "core.set", "with": {"values": {"ok": "{{ steps.a.status }}"}}},
                {"id": "c", "uses": "core.fail", "with": {"message": "second"}},
                {"id": "d", "uses": "core.log", "with": {"message": "not reached"}},
            ]
        },
    )
    result = harness.run("acme/wf")
    assert result.status == "failed"
    assert result.error == "step c: second"
    assert result.outputs["b"] == {"ok": "failed"}
    assert "d" not in result.steps


def test_retry_with_backoff_uses_the_clock(harness: Harness, tmp_path: Path) -> None:
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {
            "steps": [
                {
                    "uses": "core.fail",
                    "with": {"message": "down"},
                    "retry": {"attempts": 3, "backoff": "10s", "factor": 3},
                },
            ]
        },
    )
    result = harness.run("acme/wf")
    assert result.status == "failed"
    assert harness.clock.slept == [10.0, 30.0]
    assert [r["details"]["attempt"] for r in result.audit if r["event"] == "step.retry"] == [1, 2]


def test_timeout_fails_the_step_and_refuses_later_effects(harness: Harness, tmp_path: Path) -> None:
    import time

    done: list[str] = []

    def slow(ctx: avflow.StepContext, params: NoParams) -> None:
        time.sleep(0.5)
        try:
            ctx.effect("late", "late effect", lambda: done.append("late"))
        except avflow.StepFailed:
            done.append("refused")

    h = action_harness(tmp_path / "t", "slow.run", slow)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "slow.run", "timeout": 0.1}]})
    result = h.run("acme/wf")
    assert result.status == "failed" and "timed out after 0.1s" in (result.error or "")
    time.sleep(0.7)
    assert done == ["refused"]


def test_runtime_template_error_is_a_clean_step_failure(harness: Harness) -> None:
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {
            "steps": [
                {"id": "a", "uses": "core.set", "with": {"values": {"x": 1}}},
                {"uses": "core.log", "with": {"message": "{{ steps.a.outputs.missing.deeper }}"}},
            ]
        },
    )
    result = harness.run("acme/wf")
    assert result.status == "failed"
    assert "template error" in (result.error or "")


def test_an_actions_own_template_that_fails_is_not_retried(tmp_path: Path) -> None:
    """A template the action renders itself (`StepContext.render`) that fails fails the step at
    once, as the step's own templates do: the same values fail again, so no retry waits."""
    tries: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        tries.append(1)
        try:
            ctx.render("{{ 1 // 0 }}")
        except Exception as exc:
            raise avflow.StepFailed(f"path template: {exc}") from None

    h = action_harness(tmp_path, "t.render", act)
    h.client("acme")
    step = {"uses": "t.render", "retry": {"attempts": 3, "backoff": "30s"}}
    h.workflow("acme", "wf", {"steps": [step]})
    result = h.run("acme/wf")
    assert result.status == "failed" and "path template: integer division" in (result.error or "")
    assert tries == [1] and h.clock.slept == []
    assert "step.retry" not in [r["event"] for r in result.audit]


def test_sandbox_blocks_unsafe_attribute_access(harness: Harness) -> None:
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {
            "steps": [
                {"uses": "core.log", "with": {"message": "{{ client.__class__.__mro__ }}"}},
            ]
        },
    )
    result = harness.run("acme/wf")
    assert result.status == "failed"
    assert "__mro__" not in str(result.outputs)


def test_effects_run_once_across_an_interruption(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {"steps": [{"uses": "crashy.write", "with": {"folder": str(out), "count": 4}}]},
    )
    harness.crash_at(2, "after")  # file2 written, outcome not recorded
    with pytest.raises(SimulatedCrash):
        harness.run("acme/wf")
    assert (out / "performed.log").read_text().split() == ["file1.txt", "file2.txt"]
    [resumed] = harness.resume()
    assert resumed.status == "succeeded"
    assert (out / "performed.log").read_text().split() == [
        "file1.txt",
        "file2.txt",
        "file3.txt",
        "file4.txt",
    ]
    assert sorted(e.key for e in resumed.effects if e.status == "done") == [
        f"write:file{i}.txt" for i in range(1, 5)
    ]
    assert any(r["event"] == "effect.reconciled" for r in resumed.audit)
    assert any(r["event"] == "run.resumed" for r in resumed.audit)


def test_unknown_outcome_without_reconcile_is_not_repeated(
    harness: Harness, tmp_path: Path
) -> None:

    calls: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("send", "send the mail", lambda: calls.append(1))

    h = action_harness(tmp_path / "t", "mail.send", act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "mail.send", "retry": 3}]})
    h.crash_at(1, "after")
    with pytest.raises(SimulatedCrash):
        h.run("acme/wf")
    [resumed] = h.resume()
    assert calls == [1]
    assert resumed.status == "failed"
    assert "outcome unknown" in (resumed.error or "")


def test_dry_run_performs_nothing_and_lists_effects(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {"steps": [{"uses": "crashy.write", "with": {"folder": str(out), "count": 2}}]},
    )
    result = harness.run("acme/wf", dry_run=True)
    assert result.status == "succeeded"
    assert [(e.key, e.status) for e in result.effects] == [
        ("write:file1.txt", "dry-run"),
        ("write:file2.txt", "dry-run"),
    ]
    assert not list(out.glob("file*.txt")), "a dry run wrote files"
    assert not (out / "performed.log").exists()
    real = harness.run("acme/wf")
    assert real.performed() == ["write:file1.txt", "write:file2.txt"]


def test_same_scheduled_time_is_one_run(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    harness.client("acme")
    harness.workflow(
        "acme",
        "wf",
        {"steps": [{"uses": "crashy.write", "with": {"folder": str(out), "count": 1}}]},
    )
    first = harness.run("acme/wf", scheduled_at="2026-03-01T09:00:00+00:00")
    second = harness.run("acme/wf", scheduled_at="2026-03-01T10:00:00+01:00")  # the same instant
    assert first.id == second.id
    assert (out / "performed.log").read_text().split() == ["file1.txt"]


def test_cursor_persists_per_workflow(tmp_path: Path) -> None:
    def count(ctx: avflow.StepContext, params: NoParams) -> dict[str, int]:
        n = ctx.cursor.get("n", 0) + 1
        ctx.cursor.set("n", n)
        return {"n": n}

    h = action_harness(tmp_path, "counter.bump", count)
    h.client("acme")
    h.workflow("acme", "a", {"steps": [{"uses": "counter.bump"}]})
    h.workflow("acme", "b", {"steps": [{"uses": "counter.bump"}]})
    assert [h.run("acme/a").outputs["step1"]["n"] for _ in range(3)] == [1, 2, 3]
    assert h.run("acme/b").outputs["step1"]["n"] == 1


def test_effect_keys_are_reported_as_the_plugin_gave_them(tmp_path: Path) -> None:
    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("msg#1", "per run", lambda: 1)
        ctx.effect("inbox#2", "per workflow", lambda: 2, scope="workflow")
        ctx.effect("doc#3", "per client", lambda: 3, scope="client")

    h = action_harness(tmp_path, "keys.make", act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "keys.make"}]})
    first = h.run("acme/wf")
    assert first.performed() == ["msg#1", "inbox#2", "doc#3"]
    second = h.run("acme/wf")  # a new run: only the per-run effect is new
    assert second.performed() == ["msg#1"]


def test_an_actions_own_type_error_is_retried_and_named_as_such(tmp_path: Path) -> None:
    calls: list[int] = []

    def flaky(ctx: Any, params: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("send() got an unexpected keyword argument 'to'")
        return {"sent": len(calls)}

    h = action_harness(tmp_path / "t", "flaky.run", flaky)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "flaky.run", "retry": {"attempts": 2}}]})
    result = h.run("acme/wf")
    assert result.status == "succeeded" and len(calls) == 2
    retries = [r for r in result.audit if r["event"] == "step.retry"]
    assert len(retries) == 1
    assert "TypeError: send() got an unexpected keyword argument" in json.dumps(retries[0])
    assert "JSON-serialisable" not in json.dumps(result.audit)


def test_outputs_that_are_not_json_fail_the_step_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def odd(ctx: Any, params: Any) -> dict[str, Any]:
        calls.append(1)
        return {"when": object()}

    h = action_harness(tmp_path / "t", "odd.run", odd)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "odd.run", "retry": {"attempts": 3}}]})
    result = h.run("acme/wf")
    assert result.status == "failed" and calls == [1]
    assert "outputs are not JSON-serialisable" in (result.error or "")
