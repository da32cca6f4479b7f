"""Running a workflow: its steps in order, persisted for resume (docs/architecture.md).

A run is keyed by ``(client, workflow, scheduled UTC time)`` (a manual trigger gets a key of its
own). Its state is saved step by step; a run interrupted by a crash is resumed with the steps
already done skipped and the unfinished one run again (`avflow.steps`) through the effect ledger
(`avflow.ledger`), which skips effects already performed and reconciles those whose outcome is
unknown.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from avflow import approval_flow
from avflow.approval_store import ApprovalStore
from avflow.audit import AuditTrail
from avflow.clock import Clock
from avflow.context import Accounts
from avflow.errors import ApprovalPending, ApprovalRejected
from avflow.fsutil import FileLock
from avflow.ledger import EffectLedger
from avflow.loader import Client, LoadedWorkflow, Project
from avflow.plugins import PluginManager
from avflow.runtypes import EffectRecord, RunInfo
from avflow.state import State, utcnow_iso
from avflow.steps import StepCall, StepRunner
from avflow.vault import Vault

log = structlog.get_logger("avflow")


@dataclass
class RunOutcome:
    """What a run did: its status, each step's outputs, and its effects."""

    id: str
    key: str
    client: str
    workflow: str
    status: str  # succeeded | failed | skipped | waiting (for an approval) | rejected
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
        clock: Clock,
        state: State,
        audit: AuditTrail,
        ledger: EffectLedger,
        vault: Vault,
    ) -> None:
        """Built by `avflow.app.App`, the one place that wires a process's objects."""
        self.home = home
        self.pm = pm
        self.registry = pm.registry
        self.project = project
        self.clock = clock
        self.state = state
        self.audit = audit
        self.ledger = ledger
        self.vault = vault
        for client in project.clients.values():  # masking and checkpoint interval (docs/audit.md)
            self.audit.configure(client.id, client.profile.audit)
        self.audit.declare_personal(self.registry.personal)
        self._tz: dict[str, ZoneInfo] = {}
        self.approvals = ApprovalStore(state)
        self.steps = StepRunner(
            actions=self.registry.actions,
            accounts=lambda c: Accounts(c, self.registry.account_types, vault),
            state=state,
            ledger=ledger,
            audit=audit,
            clock=clock,
            home=home,
            approvals=self.approvals,
        )

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
        self.state.create_run(
            run_id,
            key,
            wf.client,
            wf.id,
            scheduled_at=scheduled_at.astimezone(UTC).isoformat() if scheduled_at else None,
            trigger=trigger,
            event=json.dumps(event) if event else None,
            dry_run=dry_run,
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
        """Finish every interrupted run whose workflow still exists, and take up the runs of
        approvals decided while nothing took them up (docs/approvals.md)."""
        results = []
        for row in self.interrupted_runs():
            wf = self.project.clients[row["client"]].workflows[row["workflow"]]
            results.append(self.execute(wf, row["id"]))
        for row in self.approvals.to_resume():
            client = self.project.clients.get(row["client"])
            waiting = client.workflows.get(row["workflow"]) if client else None
            outcome = self.resume_waiting(waiting, row["id"]) if waiting is not None else None
            results.extend([outcome] if outcome is not None else [])
        return results

    # -- execution --------------------------------------------------------------------------------
    def execute(self, wf: LoadedWorkflow, run_id: str) -> RunOutcome:
        row = self.state.run_by_id(run_id)
        assert row is not None
        run = self._run_info(wf, row)
        lock = self.workflow_lock(wf)
        if not lock.acquire():
            return self._skip(run, "the workflow is already running")
        try:
            return self._execute(wf, run, resumed=row["status"] == "running")
        finally:
            lock.release()

    def resume_waiting(self, wf: LoadedWorkflow, approval_id: str) -> RunOutcome | None:
        """Take up the run of a decided approval (docs/approvals.md). None: another process
        claimed it first, or the workflow is running now (then the caller tries again later)."""
        lock = self.workflow_lock(wf)
        if not lock.acquire():
            return None
        try:
            if not self.approvals.claim(approval_id):
                return None
            found = self.approvals.by_id(approval_id)
            row = self.state.run_by_id(found["run_id"]) if found is not None else None
            if row is None:
                return None
            return self._execute(wf, self._run_info(wf, row), resumed=True)
        finally:
            lock.release()

    def _run_info(self, wf: LoadedWorkflow, row: Any) -> RunInfo:
        return RunInfo(
            id=row["id"],
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
        rlog = log.bind(client=run.client, workflow=run.workflow, run=run.id)
        self.state.set_run(run.id, status="running", started_at=utcnow_iso(), durable=False)
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
        status, error = self._steps(wf, run, rlog)
        if status == "waiting":
            return self._waiting(run, rlog)
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
        (rlog.warning if status == "failed" else rlog.info)(
            "run finished", status=status, error=error
        )
        if status in ("succeeded", "rejected"):
            shutil.rmtree(self.home / "spool" / run.id, ignore_errors=True)
        self.pm.notify("run_finished", run=run, status=status, error=error)
        return self.outcome(run.id)

    def _waiting(self, run: RunInfo, rlog: Any) -> RunOutcome:
        """The run stopped at an approval: it is taken up again once someone decides."""
        self.audit.record(run.client, "run.waiting", workflow=run.workflow, run=run.id, details={})
        self.audit.sync()
        rlog.info("run waiting for an approval")
        return self.outcome(run.id)

    def _steps(self, wf: LoadedWorkflow, run: RunInfo, rlog: Any) -> tuple[str, str | None]:
        """Run the steps not finished yet, in order: the run's status and error."""
        client = self.project.clients[wf.client]
        info = client.info(self.tz(client))
        stored = self.state.steps(run.id)
        steps_ctx: dict[str, Any] = {}
        for position, step in enumerate(wf.model.steps):
            sid = step.id or f"step{position + 1}"
            done = stored.get(sid)
            if done is not None and done["status"] in ("succeeded", "skipped", "failed"):
                outputs = json.loads(done["outputs"] or "null") or {}
                steps_ctx[sid] = {"outputs": outputs, "status": done["status"]}
                if done["status"] == "failed" and not step.continue_on_error:
                    return "failed", str(done["error"])
                continue
            tctx = self.template_context(client, wf, run, steps_ctx)
            call = StepCall(client, info, run, position, sid, step, tctx, rlog.bind(step=sid))
            try:
                status, outputs, step_error = self.steps.run(call)
            except ApprovalPending as pending:
                self._wait(call, wf, pending, steps_ctx)
                return "waiting", None
            except ApprovalRejected as rejected:
                message = str(rejected)
                self.steps.stopped(call, "rejected", message)
                return "rejected", message
            steps_ctx[sid] = {"outputs": outputs, "status": status}
            self.pm.notify("step_finished", run=run, step=sid, status=status, error=step_error)
            if status == "failed" and not step.continue_on_error:
                return "failed", f"step {sid}: {step_error}"
        return "succeeded", None

    def _wait(
        self, call: StepCall, wf: LoadedWorkflow, pending: ApprovalPending, seen: dict[str, Any]
    ) -> None:
        """Store the approval the step asked for, with the preview of the following steps."""
        from avflow.preview import following_effects

        preview: list[str] = []
        if pending.existing is None:
            granted = approval_flow.approved_outputs(
                approval_flow.dry_approval(call.run, call.sid, pending.request, self.clock.now())
            )
            preview = following_effects(self.steps, self.template_context, wf, call, seen, granted)
        approval = approval_flow.begin_wait(
            store=self.approvals,
            audit=self.audit,
            info=call.info,
            run=call.run,
            step=call.sid,
            position=call.position,
            signal=pending,
            preview=preview,
            now=self.clock.now(),
        )
        call.log.info("waiting for approval", approval=approval.id, summary=approval.summary)

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

    # -- results ----------------------------------------------------------------------------------
    def outcome(self, run_id: str) -> RunOutcome:
        row = self.state.run_by_id(run_id)
        assert row is not None
        steps = self.state.steps(run_id)
        effects = self.ledger.of_run(run_id)
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
