"""Running a workflow: steps in order, templates, retries, timeouts, persisted for resume.

A run is keyed by ``(client, workflow, scheduled UTC time)`` (a manual trigger gets a key of its
own). Its state is saved step by step; a run interrupted by a crash is resumed with the steps
already done skipped and the unfinished one run again through the effect ledger, which skips
effects already performed and reconciles those whose outcome is unknown.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError

from avflow import redact, templates
from avflow.api import EffectRecord, RunInfo
from avflow.audit import AuditTrail
from avflow.clock import Clock
from avflow.context import RunStepContext
from avflow.errors import AvflowError, EffectUnknown, StepFailed
from avflow.fsutil import FileLock
from avflow.loader import Client, LoadedWorkflow, Project
from avflow.plugins import PluginManager
from avflow.state import State, utcnow_iso
from avflow.vault import Vault

log = structlog.get_logger("avflow")


@dataclass
class RunOutcome:
    """What a run did: its status, each step's outputs, and its effects."""

    id: str
    key: str
    client: str
    workflow: str
    status: str  # succeeded | failed | skipped
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)
    effects: list[EffectRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def run_key(wf: LoadedWorkflow, scheduled_at: datetime | None, run_id: str, dry_run: bool) -> str:
    base = f"{wf.client}/{wf.id}@"
    if scheduled_at is not None and not dry_run:
        return base + scheduled_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return base + ("dry-run:" if dry_run else "manual:") + run_id


class Engine:
    """Executes runs for one home folder."""

    def __init__(
        self,
        home: Path,
        pm: PluginManager,
        project: Project,
        *,
        clock: Clock | None = None,
        state: State | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self.home = home
        self.pm = pm
        self.registry = pm.registry
        self.project = project
        self.clock = clock or Clock()
        self.state = state or State(home / "state.db")
        self.audit = audit or AuditTrail(home, self.clock.now)
        for client in project.clients.values():  # masking and checkpoint interval (docs/audit.md)
            self.audit.configure(client.id, client.profile.audit)
        self.vault = Vault(home)
        self._tz: dict[str, ZoneInfo] = {}
        # Called with ("before" | "after", key) around each performed effect: the test harness
        # uses it to simulate a crash at either edge of an effect.
        self.effect_hook: Any = None

    def tz(self, client: Client) -> ZoneInfo:
        if client.id not in self._tz:
            self._tz[client.id] = ZoneInfo(client.profile.timezone)
        return self._tz[client.id]

    def workflow_lock(self, wf: LoadedWorkflow) -> FileLock:
        return FileLock(self.home / "locks" / wf.client / f"{wf.id}.lock")

    # -- entry points -----------------------------------------------------------------------------
    def trigger(
        self,
        wf: LoadedWorkflow,
        *,
        scheduled_at: datetime | None = None,
        trigger: str = "manual",
        dry_run: bool = False,
        event: dict[str, Any] | None = None,
    ) -> RunOutcome:
        """Create the run for ``wf`` (or find the one with the same key) and execute it."""
        run_id = uuid.uuid4().hex[:16]
        key = run_key(wf, scheduled_at, run_id, dry_run)
        existing = self.state.run_by_key(key)
        if existing is not None:
            if existing["status"] in ("pending", "running"):
                return self.execute(wf, existing["id"])
            return self.outcome(existing["id"])
        now = utcnow_iso()
        with self.state.tx() as db:
            db.execute(
                """INSERT INTO runs (id, key, client, workflow, scheduled_at, trigger, event, dry_run, status, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (
                    run_id,
                    key,
                    wf.client,
                    wf.id,
                    scheduled_at.astimezone(UTC).isoformat() if scheduled_at else None,
                    trigger,
                    json.dumps(event) if event else None,
                    int(dry_run),
                    now,
                ),
            )
        return self.execute(wf, run_id)

    def interrupted_runs(self) -> list[Any]:
        """Runs left unfinished by a process that died (nobody holds their workflow's lock)."""
        out = []
        for row in self.state.unfinished_runs():
            client = self.project.clients.get(row["client"])
            wf = client.workflows.get(row["workflow"]) if client else None
            if wf is not None and not self.workflow_lock(wf).is_held_elsewhere():
                out.append(row)
        return out

    def resume_interrupted(self) -> list[RunOutcome]:
        """Finish every interrupted run whose workflow still exists."""
        results = []
        for row in self.interrupted_runs():
            wf = self.project.clients[row["client"]].workflows[row["workflow"]]
            results.append(self.execute(wf, row["id"]))
        return results

    # -- execution --------------------------------------------------------------------------------
    def execute(self, wf: LoadedWorkflow, run_id: str) -> RunOutcome:
        row = self.state.run_by_id(run_id)
        assert row is not None
        run = RunInfo(
            id=run_id,
            key=row["key"],
            client=wf.client,
            workflow=wf.id,
            scheduled_at=datetime.fromisoformat(row["scheduled_at"])
            if row["scheduled_at"]
            else None,
            trigger=row["trigger"],
            dry_run=bool(row["dry_run"]),
            event=json.loads(row["event"]) if row["event"] else None,
        )
        lock = self.workflow_lock(wf)
        if not lock.acquire():
            return self._skip(run, "the workflow is already running")
        try:
            return self._execute(wf, run, resumed=row["status"] == "running")
        finally:
            lock.release()

    def _skip(self, run: RunInfo, reason: str) -> RunOutcome:
        row = self.state.run_by_id(run.id)
        if row is not None and row["status"] == "pending":
            self.state.set_run(run.id, status="skipped", error=reason, finished_at=utcnow_iso())
            self.audit.record(
                run.client,
                "run.skipped",
                workflow=run.workflow,
                run=run.id,
                description=reason,
                details={"key": run.key},
            )
        log.info("run skipped", client=run.client, workflow=run.workflow, reason=reason)
        return RunOutcome(run.id, run.key, run.client, run.workflow, "skipped", reason)

    def _execute(self, wf: LoadedWorkflow, run: RunInfo, resumed: bool) -> RunOutcome:
        client = self.project.clients[wf.client]
        rlog = log.bind(client=run.client, workflow=run.workflow, run=run.id)
        self.state.set_run(run.id, status="running", started_at=utcnow_iso())
        self.audit.record(
            run.client,
            "run.resumed" if resumed else "run.started",
            workflow=run.workflow,
            run=run.id,
            description=wf.name,
            details={"key": run.key, "trigger": run.trigger, "dry_run": run.dry_run},
        )
        rlog.info(
            "run resumed" if resumed else "run started", trigger=run.trigger, dry_run=run.dry_run
        )
        self.pm.notify("run_started", run=run)
        stored = self.state.steps(run.id)
        steps_ctx: dict[str, Any] = {}
        statuses: dict[str, str] = {}
        error: str | None = None
        for position, step in enumerate(wf.model.steps):
            sid = step.id or f"step{position + 1}"
            done = stored.get(sid)
            if done is not None and done["status"] in ("succeeded", "skipped", "failed"):
                steps_ctx[sid] = {
                    "outputs": json.loads(done["outputs"] or "null") or {},
                    "status": done["status"],
                }
                statuses[sid] = done["status"]
                if done["status"] == "failed" and not step.continue_on_error:
                    error = done["error"]
                    break
                continue
            status, outputs, step_error = self._run_step(
                client, wf, run, position, sid, steps_ctx, rlog
            )
            steps_ctx[sid] = {"outputs": outputs, "status": status}
            statuses[sid] = status
            self.pm.notify("step_finished", run=run, step=sid, status=status, error=step_error)
            if status == "failed" and not step.continue_on_error:
                error = f"step {sid}: {step_error}"
                break
        status = "failed" if error else "succeeded"
        self.state.set_run(run.id, status=status, error=error, finished_at=utcnow_iso())
        self.audit.record(
            run.client,
            "run.finished",
            workflow=run.workflow,
            run=run.id,
            description=f"{wf.name}: {status}",
            details={"status": status, "error": error},
        )
        self.audit.sync()
        (rlog.warning if error else rlog.info)("run finished", status=status, error=error)
        if status == "succeeded":
            shutil.rmtree(self.home / "spool" / run.id, ignore_errors=True)
        self.pm.notify("run_finished", run=run, status=status, error=error)
        return self.outcome(run.id)

    def template_context(
        self, client: Client, wf: LoadedWorkflow, run: RunInfo, steps: dict[str, Any]
    ) -> dict[str, Any]:
        when = run.scheduled_at or self.clock.now()
        return {
            "client": {
                "id": client.id,
                "name": client.profile.name,
                "timezone": client.profile.timezone,
            },
            "workflow": {"id": wf.id, "name": wf.name},
            "run": {
                "id": run.id,
                "key": run.key,
                "trigger": run.trigger,
                "dry_run": run.dry_run,
                "scheduled_at": run.scheduled_at.isoformat() if run.scheduled_at else None,
                "time": when.astimezone(self.tz(client)).isoformat(),
                "event": run.event or {},
            },
            "steps": steps,
        }

    def _run_step(
        self,
        client: Client,
        wf: LoadedWorkflow,
        run: RunInfo,
        position: int,
        sid: str,
        steps_ctx: dict[str, Any],
        rlog: Any,
    ) -> tuple[str, dict[str, Any], str | None]:
        step = wf.model.steps[position]
        slog = rlog.bind(step=sid)
        action = self.registry.actions[step.uses]
        tctx = self.template_context(client, wf, run, steps_ctx)
        audit: dict[str, Any] = dict(workflow=run.workflow, run=run.id, step=sid)
        rendering = time.monotonic()  # rendering counts against the step's timeout
        try:
            with templates.limited(step.timeout):
                if step.if_ is not None:
                    cond = step.if_ if templates.is_template(step.if_) else "{{ " + step.if_ + " }}"
                    if not templates.truthy(templates.render(cond, tctx)):
                        self.state.save_step(run.id, sid, position, "skipped", outputs={})
                        self.audit.record(
                            run.client,
                            "step.skipped",
                            description=f"condition false: {step.if_}",
                            **audit,
                        )
                        slog.info("step skipped", condition=step.if_)
                        return "skipped", {}, None
                values = templates.render_tree(step.with_, tctx, skip=action.template_vars)
            params = action.params.model_validate(values)
        except ValidationError as exc:
            return self._fail(run, position, sid, _validation_message(exc), 0, audit, slog)
        except Exception as exc:  # template errors: undefined names, bad filters, sandbox refusals
            return self._fail(run, position, sid, f"template error: {exc}", 0, audit, slog)
        attempts = step.retry.attempts
        for attempt in range(1, attempts + 1):
            self.state.save_step(run.id, sid, position, "running", attempts=attempt)
            ctx = RunStepContext(self, client, run, sid, step.uses, tctx, slog)
            try:
                spent = time.monotonic() - rendering if attempt == 1 else 0.0
                outputs = self._call(action.run, ctx, params, step.timeout, spent)
                outputs = redact.redact(dict(outputs or {}))
                encoded = json.dumps(outputs)
            except EffectUnknown as exc:
                return self._fail(run, position, sid, str(exc), attempt, audit, slog)
            except TypeError as exc:
                return self._fail(
                    run,
                    position,
                    sid,
                    f"outputs are not JSON-serialisable: {exc}",
                    attempt,
                    audit,
                    slog,
                )
            except Exception as exc:
                message = redact.redact(str(exc) or type(exc).__name__)
                if not isinstance(exc, AvflowError):
                    message = f"{type(exc).__name__}: {message}"
                if attempt < attempts:
                    delay = step.retry.delay(attempt)
                    self.audit.record(
                        run.client,
                        "step.retry",
                        description=message,
                        details={"attempt": attempt, "delay": delay},
                        **audit,
                    )
                    slog.warning(
                        "step failed, retrying", attempt=attempt, delay=delay, error=message
                    )
                    self.clock.sleep(delay)
                    continue
                return self._fail(run, position, sid, message, attempt, audit, slog)
            self.state.save_step(
                run.id, sid, position, "succeeded", outputs_json=encoded, attempts=attempt
            )
            self.audit.record(
                run.client,
                "step.finished",
                description=step.name or step.uses,
                details={"status": "succeeded", "attempts": attempt},
                **audit,
            )
            slog.info("step finished", attempts=attempt)
            return "succeeded", outputs, None
        raise AssertionError("unreachable")

    def _fail(
        self,
        run: RunInfo,
        position: int,
        sid: str,
        message: str,
        attempts: int,
        audit: dict[str, Any],
        slog: Any,
    ) -> tuple[str, dict[str, Any], str]:
        message = redact.redact(message)
        self.state.save_step(
            run.id, sid, position, "failed", outputs={}, error=message, attempts=attempts
        )
        self.audit.record(
            run.client, "step.failed", description=message, details={"attempts": attempts}, **audit
        )
        slog.error("step failed", error=message)
        return "failed", {}, message

    @staticmethod
    def _call(
        fn: Any, ctx: RunStepContext, params: Any, timeout: float | None, spent: float = 0.0
    ) -> Any:
        """Run ``fn`` within ``timeout`` seconds, less the ``spent`` rendering its templates."""
        if timeout is None:
            return fn(ctx, params)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn(ctx, params)
            except BaseException as exc:
                box["error"] = exc

        t = threading.Thread(target=target, name=f"step-{ctx.step_id}", daemon=True)
        t.start()
        t.join(max(timeout - spent, 0.001))
        if t.is_alive():
            ctx.cancelled.set()
            raise StepFailed(f"timed out after {timeout:g}s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    # -- results ----------------------------------------------------------------------------------
    def outcome(self, run_id: str) -> RunOutcome:
        row = self.state.run_by_id(run_id)
        assert row is not None
        steps = self.state.steps(run_id)
        effects = [
            EffectRecord(
                key=_plugin_key(e["key"], row),
                kind=e["kind"],
                description=e["description"],
                status=e["status"],
                result=json.loads(e["result"]) if e["result"] else None,
                run_id=e["run_id"],
                step=e["step"],
            )
            for e in self.state.effects_of_run(run_id)
        ] + [
            EffectRecord(
                key=e["key"],
                kind=e["kind"],
                description=e["description"],
                status="dry-run",
                run_id=run_id,
                step=e["step"],
            )
            for e in self.state.dry_effects_of_run(run_id)
        ]
        return RunOutcome(
            id=run_id,
            key=row["key"],
            client=row["client"],
            workflow=row["workflow"],
            status=row["status"],
            error=row["error"],
            outputs={s: json.loads(r["outputs"] or "null") or {} for s, r in steps.items()},
            steps={s: r["status"] for s, r in steps.items()},
            effects=effects,
        )


def _plugin_key(ledger_key: str, run: Any) -> str:
    """The key the plugin gave, without the scope prefix `RunStepContext._ledger_key` added."""
    for prefix in (f"{run['key']}#", f"{run['workflow']}#"):
        if ledger_key.startswith(prefix):
            return ledger_key[len(prefix) :]
    return ledger_key  # scope "client": stored as given


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "invalid parameters after rendering templates: " + "; ".join(parts)
