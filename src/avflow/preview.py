"""What the steps after an approval would do: a dry run of them, shown to the person deciding.

The following steps are rendered and run as in ``avflow trigger --dry-run``, with the approval
taken as granted, but nothing of the preview is kept: effects are collected instead of recorded,
notes are neither logged nor written to the audit trail (the steps log nothing), cursors are read but never moved, and the spool folder
is removed afterwards. It stops at a second approval. A step that cannot be previewed (its
templates need an output only a real run produces, its action fails) is shown as such; the
preview never fails the run.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avflow import redact
from avflow.context import RunStepContext, StoreCursor
from avflow.steps import SKIPPED, StepCall, StepRunner

if TYPE_CHECKING:
    from avflow.ledger import Effect, EffectSite
    from avflow.loader import Client, LoadedWorkflow
    from avflow.runtypes import RunInfo

PREVIEW_TIMEOUT = 60.0  # seconds per step when the step declares no timeout

# the engine's `Engine.template_context`: (client, workflow, run, steps so far) -> variables
TemplateContext = Callable[["Client", "LoadedWorkflow", "RunInfo", dict[str, Any]], dict[str, Any]]


class _Collector:
    """Stands in for the effect ledger in a preview: keeps what would be performed."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger
        self.lines: list[str] = []

    def record_dry(self, site: EffectSite, effect: Effect) -> None:
        self.lines.append(effect.description)

    def status(self, site: EffectSite, key: str, scope: str) -> str | None:
        return self._ledger.status(site, key, scope)


class _Silent:
    """Stands in for the audit trail: a preview writes nothing to it."""

    def record(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}


class _SilentLog:
    """Stands in for the run's logger: the preview's steps did not run, so nothing they say
    (a ``core.log`` message, "would perform", "step finished") reaches the log."""

    def bind(self, **kwargs: Any) -> _SilentLog:
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _nothing


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


class _ReadOnlyCursor(StoreCursor):
    def set(self, key: str, value: Any) -> None:
        return None

    def delete(self, key: str) -> None:
        return None


def _context(
    steps: StepRunner, call: StepCall, action: str, collector: _Collector, spool: Path
) -> RunStepContext:
    plugin = action.split(".")[0]
    return RunStepContext(
        client=call.info,
        run=call.run,
        step_id=call.sid,
        action=action,
        log=call.log,
        template_context=call.tctx,
        ledger=collector,  # type: ignore[arg-type]
        audit=_Silent(),  # type: ignore[arg-type]
        accounts=steps.accounts(call.client),
        cursor=_ReadOnlyCursor(steps.state, call.client.id, call.run.workflow, plugin),
        spool=spool,
        data_dir=steps.home / "plugins" / plugin,
        clock=steps.clock,
    )


def following_effects(
    steps: StepRunner,
    template_context: TemplateContext,
    wf: LoadedWorkflow,
    asked: StepCall,
    steps_ctx: dict[str, Any],
    approved: dict[str, Any],
) -> list[str]:
    """Descriptions of the effects the steps after ``asked`` (the step that asks for the approval)
    would perform, in order.

    ``steps``: the engine's step runner (its actions, accounts, state, ledger, clock and home);
    ``template_context``: the engine's `Engine.template_context`. The engine, which imports this
    module, passes them rather than itself.
    """
    from dataclasses import replace

    client, info, log = asked.client, asked.info, _SilentLog()
    run, position = asked.run, asked.position

    dry = replace(run, dry_run=True)
    seen = dict(steps_ctx)
    seen[wf.model.steps[position].id or f"step{position + 1}"] = {
        "outputs": approved,
        "status": "succeeded",
    }
    collector = _Collector(steps.ledger)
    spool = steps.home / "spool" / f"{run.id}-preview"
    try:
        for pos in range(position + 1, len(wf.model.steps)):
            step = wf.model.steps[pos]
            sid = step.id or f"step{pos + 1}"
            if step.uses == "core.approval":
                collector.lines.append(f"(then another approval, step {sid})")
                break
            tctx = template_context(client, wf, dry, seen)
            call = StepCall(client, info, dry, pos, sid, step, tctx, log.bind(step=sid))
            action = steps.actions[step.uses]
            ctx = _context(steps, call, action.name, collector, spool)
            body = partial(steps._attempt, call, action, ctx)
            try:
                result = steps._timed(body, ctx, step.timeout or PREVIEW_TIMEOUT)
            except Exception as exc:
                why = redact.redact(str(exc) or type(exc).__name__)
                collector.lines.append(f"(step {sid} cannot be previewed: {why})")
                result = {}
            if result is SKIPPED:
                seen[sid] = {"outputs": {}, "status": "skipped"}
            else:
                seen[sid] = {"outputs": dict(result or {}), "status": "succeeded"}
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return collector.lines
