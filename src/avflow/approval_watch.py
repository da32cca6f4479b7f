"""The service's side of approvals: decisions made elsewhere, deadlines, runs handed back.

`ApprovalWatch` runs in a thread of ``avflow run``. About once a second it asks SQLite whether
anything changed (``PRAGMA data_version``, no table read) and whether a deadline has come; only
then does it read the approvals table (indexed queries). It

- takes the default of approvals whose deadline has passed (also those that passed while no
  service ran), or, with no default, records ``approval.overdue`` and tells the AV once through
  the configured failure notifiers;
- hands each decided approval's run to the service's runner, which claims it
  (`Engine.resume_waiting`): exactly one process resumes a run, however many watch;
- writes audit records a killed process left out (`avflow.approvals.catch_up_audit`).

See docs/approvals.md.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from avflow import approvals
from avflow.approval_store import ApprovalStore
from avflow.runtypes import RunInfo

if TYPE_CHECKING:
    from avflow.app import App
    from avflow.engine import Engine
    from avflow.scheduler.runner import Task

log = structlog.get_logger("avflow.approvals")

POLL = 1.0  # seconds between checks: a decision from another process is seen within ~2 s
AUDIT_EVERY = 60.0  # seconds between checks for records a killed process left out


class ApprovalWatch:
    """Notices decisions and deadlines and hands the runs back (see the module's docstring)."""

    def __init__(
        self,
        app: App,
        engine: Callable[[], Engine],
        submit: Callable[[Task], bool],
        *,
        poll: float = POLL,
    ) -> None:
        self.app = app
        self.engine = engine
        self.submit = submit
        self.poll = poll
        self.store = ApprovalStore(app.state)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # PRAGMA data_version, with the thread whose connection gave it: the numbers of two
        # connections do not compare (a connection opened after a commit starts where the
        # first pass's connection stood, and would never see that commit as a change)
        self._seen: tuple[int, int] | None = None
        self._next: datetime | None = None
        self._backlog = True
        self._audit_at = 0.0

    def start(self, *, thread: bool = True) -> None:
        """One pass now (what happened while no service ran), then every ``poll`` seconds."""
        self._safe_tick(force=True)
        if thread:
            self._thread = threading.Thread(target=self._loop, name="approvals", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self._safe_tick()
        self.app.state.close()  # this thread's connection

    def _safe_tick(self, *, force: bool = False) -> None:
        try:
            self.tick(force=force)
        except Exception as exc:  # a locked database, a broken notifier: try again later
            self._backlog = True
            log.error("approvals check failed", error=f"{type(exc).__name__}: {exc}")

    def tick(self, *, force: bool = False) -> None:
        now = self.app.clock.now()
        version = (threading.get_ident(), self.store.data_version())
        due = self._next is not None and now >= self._next
        if not (force or due or self._backlog or version != self._seen):
            self._maybe_catch_up()
            return
        self._seen = version
        self._overdue(now)
        self._backlog = self._hand_back()
        self._next = self.store.next_deadline()
        self._maybe_catch_up(force)

    def _maybe_catch_up(self, force: bool = False) -> None:
        if force or time.monotonic() >= self._audit_at:
            self._audit_at = time.monotonic() + AUDIT_EVERY
            if approvals.catch_up_audit(self.app):
                log.warning("approval records caught up in the audit trail")

    def _overdue(self, now: datetime) -> None:
        for row in self.store.overdue(now):
            approval = approvals.from_row(row)
            if approval.default is not None:
                done = approvals.expire(self.app, approval, now)
                if done is not None:
                    log.info(
                        "approval expired",
                        approval=done.id,
                        client=done.client,
                        workflow=done.workflow,
                        default=done.default,
                    )
            else:
                self._tell_the_av(approval)
                self.store.set_notified([approval.id])

    def _tell_the_av(self, approval: approvals.Approval) -> None:
        """No default: it keeps waiting; the AV hears of it once (audit, log, notifiers)."""
        message = (
            f"approval {approval.id} is still waiting for a decision after its deadline: "
            f"{approval.summary}"
        )
        self.app.audit.record(
            approval.client,
            "approval.overdue",
            workflow=approval.workflow,
            run=approval.run_id,
            step=approval.step,
            description=message,
            details={"approval": approval.id},
        )
        self.app.audit.sync()
        log.warning("approval overdue", approval=approval.id, client=approval.client)
        notifier: Any = self.app.pm.pm.get_plugin("avflow.notify")  # the service's notifiers
        if notifier is None or not hasattr(notifier, "run_finished"):
            return
        row = self.app.state.run_by_id(approval.run_id)
        run = RunInfo(
            id=approval.run_id,
            key=row["key"] if row is not None else "",
            client=approval.client,
            workflow=approval.workflow,
            scheduled_at=None,
            trigger=row["trigger"] if row is not None else "",
            dry_run=False,
        )
        try:
            notifier.run_finished(run=run, status="failed", error=message)
        except Exception as exc:
            log.error("approval notice not sent", error=str(exc))

    def _hand_back(self) -> bool:
        """Submit the runs of decided approvals; True if some must be tried again later."""
        from avflow.scheduler.runner import Task

        rows = self.store.to_resume()
        project = self.engine().project
        for row in rows:
            client = project.clients.get(row["client"])
            wf = client.workflows.get(row["workflow"]) if client else None
            if wf is None:
                continue  # its workflow is gone (or broken): it waits until it is back
            # refused while the workflow runs; a submitted one may still find it busy elsewhere:
            # either way the row stays unclaimed and is submitted again at the next check
            self.submit(Task(wf, [], trigger="approval", resume=row["id"]))
        return bool(rows)
