"""A test plugin: an action whose effects write lines to a file, and that can be paused.

``fx.write`` appends ``<run key> <i>`` lines, one effect each. If the ``pause`` file exists, the
action stops before effect ``pause_at`` (or, with ``inside: true``, inside it, after writing its
line but before the ledger records it) and creates ``<pause>.reached``, then waits for the pause
file to disappear. ``fx.fail`` fails. ``fx.tick`` is an event trigger firing when a file appears.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import avflow


class WriteParams(BaseModel):
    path: str
    lines: int = 3
    pause: str | None = None
    pause_at: int = 1
    inside: bool = False
    sleep: float = 0.0
    concurrency: str | None = None  # a folder where running runs leave a file (peak concurrency)


def _wait_pause(pause: str | None) -> None:
    if pause and Path(pause).exists():
        Path(pause + ".reached").write_text("1")
        while Path(pause).exists():
            time.sleep(0.02)


def _write(ctx: avflow.StepContext, p: WriteParams) -> dict[str, Any]:
    out = Path(p.path)
    marker = None
    if p.concurrency:
        marker = Path(p.concurrency) / f"{ctx.client.id}-{ctx.run.workflow}-{ctx.run.id}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(ctx.client.id)
    try:
        if p.sleep:
            time.sleep(p.sleep)
        for i in range(p.lines):
            line = f"{ctx.run.key} {i}\n"
            if i == p.pause_at and not p.inside:
                _wait_pause(p.pause)

            def perform(line: str = line, i: int = i) -> int:
                with open(out, "a") as f:
                    f.write(line)
                if i == p.pause_at and p.inside:
                    _wait_pause(p.pause)
                return i

            def reconcile(line: str = line, i: int = i) -> int | None:
                return (
                    i
                    if out.exists() and line in out.read_text().splitlines(keepends=True)
                    else None
                )

            ctx.effect(
                f"line-{i}",
                f"write line {i} to {out.name}",
                perform,
                kind="fx.write",
                reconcile=reconcile,
            )
        return {"lines": p.lines}
    finally:
        if marker is not None:
            marker.unlink()


class FailParams(BaseModel):
    message: str = "boom"


def _fail(ctx: avflow.StepContext, p: FailParams) -> None:
    raise avflow.StepFailed(p.message)


class TickParams(BaseModel):
    path: str


def _tick(ctx: avflow.TriggerContext, p: TickParams) -> None:
    path = Path(p.path)
    while not ctx.stopping.wait(0.05):
        if path.exists():
            payload = {"text": path.read_text()}
            path.unlink()
            ctx.fire(payload)


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action("fx.write", WriteParams, _write, "Write lines to a file, one effect each.")
    )
    register(avflow.Action("fx.fail", FailParams, _fail, "Fail."))


@avflow.hookimpl
def register_triggers(register: Any) -> None:
    register(avflow.Trigger("fx.tick", TickParams, _tick, "Fire when a file appears."))


_ = threading


class NoticeSettings(avflow.NotifierSettings):
    path: str
    fail: bool = False  # raise instead of delivering (a notifier whose server is down)


def _notice(s: NoticeSettings, failures: list[avflow.Failure], to: str | None) -> None:
    """``fx.notices``: one JSON line per notice, so the tests can count them."""
    if s.fail:
        raise OSError("notice server unreachable")
    line = {
        "to": to,
        "workflows": [f"{f.client}/{f.workflow}" for f in failures],
        "errors": [f.error for f in failures],
        "failures": [f.failures for f in failures],
    }
    with open(s.path, "a") as fh:
        fh.write(json.dumps(line) + "\n")


@avflow.hookimpl
def register_notifiers(register: Any) -> None:
    register(avflow.Notifier("fx_notices", NoticeSettings, _notice, "Write notices to a file."))
