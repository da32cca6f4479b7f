"""One step of a run: its attempts, their timeout and retries (docs/architecture.md).

An attempt is everything a step does once: rendering its ``if:`` and ``with:`` templates,
validating the parameters, and the action's code with its effects. A step's ``timeout`` covers
the whole attempt. No two attempts of a step are alive at once: a timed-out attempt is told to
stop (it may start no new effect) and given as long again as its timeout (at least a second) to
end; the next attempt begins only after it has ended. One that does not end fails the step
without another attempt; an effect it is performing stays unknown until its thread ends, and
then its outcome is recorded (the ledger, `avflow.ledger`, does that in the attempt's thread).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from avflow import redact, templates
from avflow.api import Action, ClientInfo
from avflow.approval_store import ApprovalStore
from avflow.audit import AuditTrail
from avflow.clock import Clock
from avflow.context import Accounts, RunStepContext, StoreCursor
from avflow.errors import AvflowError, EffectUnknown, StepFailed
from avflow.ledger import EffectLedger
from avflow.loader import Client
from avflow.models import Step
from avflow.runtypes import RunInfo
from avflow.state import State

SKIPPED = object()  # an attempt's result when the step's condition is false
MIN_GRACE = 1.0  # seconds a timed-out attempt has at least to end before the step gives up


class FinalError(AvflowError):
    """An attempt's failure that another attempt cannot cure (template, parameters, unknown)."""


@dataclass
class StepCall:
    """One step of one run, as the engine hands it over."""

    client: Client
    info: ClientInfo
    run: RunInfo
    position: int
    sid: str
    step: Step
    tctx: dict[str, Any]
    log: Any


class StepRunner:
    """Runs a step's attempts; records the step's state and audit records."""

    def __init__(
        self,
        *,
        actions: dict[str, Action[Any]],
        accounts: Callable[[Client], Accounts],
        state: State,
        ledger: EffectLedger,
        audit: AuditTrail,
        clock: Clock,
        home: Path,
        approvals: ApprovalStore | None = None,
    ) -> None:
        self.actions = actions
        self.approvals = approvals
        self.accounts = accounts
        self.state = state
        self.ledger = ledger
        self.audit = audit
        self.clock = clock
        self.home = home

    def run(self, call: StepCall) -> tuple[str, dict[str, Any], str | None]:
        """Attempt the step up to ``retry.attempts`` times: (status, outputs, error)."""
        step, action = call.step, self.actions[call.step.uses]
        accounts = self.accounts(call.client)
        attempts = step.retry.attempts
        for attempt in range(1, attempts + 1):
            # Not fsynced, nor the step's success below: a later durable commit (an effect's
            # intent, the next step's end, the run's end) covers them (docs/architecture.md).
            self.state.save_step(
                call.run.id, call.sid, call.position, "running", attempts=attempt, durable=False
            )
            ctx = self._context(call, action, accounts)
            try:
                result = self._timed(partial(self._attempt, call, action, ctx), ctx, step.timeout)
            except (FinalError, EffectUnknown) as exc:
                return self._fail(call, str(exc), attempt)
            except Exception as exc:
                message = redact.redact(str(exc) or type(exc).__name__)
                if not isinstance(exc, AvflowError):
                    message = f"{type(exc).__name__}: {message}"
                if attempt == attempts or ctx.template_failed:  # a template fails every time
                    return self._fail(call, message, attempt)
                self._retry_later(call, attempt, message)
                continue
            if ctx.unknown is not None:  # the action caught it and went on: the run stops anyway
                return self._fail(call, ctx.unknown, attempt)
            if result is SKIPPED:
                return self._skipped(call)
            try:  # the action's own TypeError is an error of the action, retried above
                outputs = redact.redact(dict(result or {}))
                encoded = json.dumps(outputs)
            except (TypeError, ValueError) as exc:
                return self._fail(call, f"outputs are not JSON-serialisable: {exc}", attempt)
            self.state.save_step(
                call.run.id,
                call.sid,
                call.position,
                "succeeded",
                outputs_json=encoded,
                attempts=attempt,
                durable=False,
            )
            self._record(
                call,
                "step.finished",
                step.name or step.uses,
                {"status": "succeeded", "attempts": attempt},
            )
            call.log.info("step finished", attempts=attempt)
            return "succeeded", outputs, None
        raise AssertionError("unreachable")

    def _attempt(self, call: StepCall, action: Action[Any], ctx: RunStepContext) -> Any:
        """Render, validate, run: all of it under the step's timeout."""
        step = call.step
        try:
            with templates.limited(step.timeout):  # the templates' own time budget (same timeout)
                if step.if_ is not None:
                    cond = step.if_ if templates.is_template(step.if_) else "{{ " + step.if_ + " }}"
                    if not templates.truthy(templates.render(cond, call.tctx)):
                        return SKIPPED
                values = templates.render_tree(step.with_, call.tctx, skip=action.template_vars)
            params = action.params_model.model_validate(values)
        except ValidationError as exc:
            raise FinalError(_validation_message(exc)) from None
        except Exception as exc:  # undefined names, bad filters, sandbox refusals
            raise FinalError(f"template error: {exc}") from None
        return action.run(ctx, params)

    def _timed(self, body: Callable[[], Any], ctx: RunStepContext, timeout: float | None) -> Any:
        if timeout is None:
            return body()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = body()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=target, name=f"step-{ctx.step_id}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            ctx.cancelled.set()  # it may start no new effect
            grace = max(timeout, MIN_GRACE)
            thread.join(grace)
            if thread.is_alive():
                raise FinalError(_stuck_message(ctx, timeout, grace))
            if isinstance(box.get("error"), FinalError | EffectUnknown):
                raise box["error"]  # e.g. the templates' own budget, ending at the same moment
            raise StepFailed(_late_message(ctx, timeout))
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _context(self, call: StepCall, action: Action[Any], accounts: Accounts) -> RunStepContext:
        plugin = action.name.split(".")[0]
        return RunStepContext(
            client=call.info,
            run=call.run,
            step_id=call.sid,
            action=action.name,
            log=call.log,
            template_context=call.tctx,
            ledger=self.ledger,
            audit=self.audit,
            accounts=accounts,
            cursor=StoreCursor(self.state, call.client.id, call.run.workflow, plugin),
            spool=self.home / "spool" / call.run.id,
            data_dir=self.home / "plugins" / plugin,
            clock=self.clock,
            approvals=self.approvals,
        )

    def _retry_later(self, call: StepCall, attempt: int, message: str) -> None:
        delay = call.step.retry.delay(attempt)
        self._record(call, "step.retry", message, {"attempt": attempt, "delay": delay})
        call.log.warning("step failed, retrying", attempt=attempt, delay=delay, error=message)
        self.clock.sleep(delay)

    def _skipped(self, call: StepCall) -> tuple[str, dict[str, Any], None]:
        self.state.save_step(call.run.id, call.sid, call.position, "skipped", outputs={})
        self._record(call, "step.skipped", f"condition false: {call.step.if_}", {})
        call.log.info("step skipped", condition=call.step.if_)
        return "skipped", {}, None

    def stopped(self, call: StepCall, status: str, message: str) -> None:
        """The step ended the run without failing (an approval was rejected)."""
        self.state.save_step(
            call.run.id, call.sid, call.position, status, outputs={}, error=message, attempts=1
        )
        self._record(call, f"step.{status}", message, {})
        call.log.info(f"step {status}", reason=message)

    def _fail(self, call: StepCall, message: str, attempts: int) -> tuple[str, dict[str, Any], str]:
        message = redact.redact(message)
        self.state.save_step(
            call.run.id,
            call.sid,
            call.position,
            "failed",
            outputs={},
            error=message,
            attempts=attempts,
        )
        self._record(call, "step.failed", message, {"attempts": attempts})
        call.log.error("step failed", error=message)
        return "failed", {}, message

    def _record(
        self, call: StepCall, event: str, description: str, details: dict[str, Any]
    ) -> None:
        self.audit.record(
            call.run.client,
            event,
            workflow=call.run.workflow,
            run=call.run.id,
            step=call.sid,
            description=description,
            details=details,
        )


def _stuck_message(ctx: RunStepContext, timeout: float, grace: float) -> str:
    base = f"timed out after {timeout:g}s and did not stop within {grace:g}s more"
    if ctx.performing is None:
        return base + "; not tried again while it still runs"
    return (
        f"{base}, while performing effect {ctx.performing!r}; not tried again while it still "
        "runs. The effect's outcome is recorded when it ends; if it stays unknown, check "
        f"whether it happened and run: avflow effects resolve {ctx.run.id} "
        f"'{ctx.performing}' --done (or --not-done)"
    )


def _late_message(ctx: RunStepContext, timeout: float) -> str:
    if not ctx.done_late:
        return f"timed out after {timeout:g}s"
    keys = ", ".join(repr(k) for k in ctx.done_late)
    return (
        f"timed out after {timeout:g}s, but effect {keys} ended done after the timeout (recorded: "
        "a retry or resume of this run does not perform it again; a new run would)"
    )


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "invalid parameters after rendering templates: " + "; ".join(parts)
