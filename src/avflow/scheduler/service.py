"""The long-running service behind ``avflow run`` (docs/scheduling.md, docs/architecture.md).

One main loop owns the planner: it sleeps until the next firing or until woken (a signal, a
finished run, a changed file, a trigger event), then dispatches what is due to the `Runner`.
Order of things at start: take the home folder's service lock, finish runs a killed process left
behind (`Engine.resume_interrupted`), apply each workflow's ``catch_up`` policy to the firings
missed while nothing ran, then loop. SIGTERM/SIGINT: stop taking runs, give running ones
``stop_timeout`` to finish, persist, exit 0. SIGHUP or a changed file: reload.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from avflow.app import App
from avflow.approval_watch import ApprovalWatch
from avflow.clock import Clock
from avflow.engine import Engine
from avflow.errors import ConfigErrors, UsageError
from avflow.fsutil import FileLock, atomic_write, private_dir
from avflow.loader import LoadedWorkflow, Loader, Project
from avflow.pathrules import PathRules, own_keys
from avflow.plugins import PluginManager
from avflow.scheduler.gating import Gate
from avflow.scheduler.notify import (
    FailureNotifier,
    client_address,
    client_language,
    configure,
)
from avflow.scheduler.planner import ON_TIME, Decision, Job, Planner, decide, jobs_of
from avflow.scheduler.records import record_decision, record_gated_event, record_overlap
from avflow.scheduler.reload import FileWatcher, apply_jobs, load_then_watch, log_errors, merge
from avflow.scheduler.runner import Runner, Task
from avflow.scheduler.settings import ServiceSettings
from avflow.scheduler.startup import (
    DemoPass,
    announce_next,
    announce_start,
    finish_interrupted,
)
from avflow.scheduler.store import ScheduleStore, iso
from avflow.scheduler.triggers import Triggers
from avflow.scheduler.waking import Waker, install_signals, restore_signals, until

log = structlog.get_logger("avflow.scheduler")


def service_lock(home: Path) -> FileLock:
    return FileLock(home / "service.lock")


class Service:
    """``avflow run``: schedule, run, reload, stop cleanly."""

    def __init__(
        self,
        workflows: Path,
        home: Path,
        pm: PluginManager,
        *,
        clock: Clock | None = None,
        settings: ServiceSettings | None = None,
        watch: bool = True,
        once: bool = False,
    ) -> None:
        self.workflows = workflows
        self.home = home
        self.pm = pm
        self.clock = clock or Clock()
        self.settings = settings or ServiceSettings()
        self.watch = watch
        self.once = once
        self.waker = Waker(self.clock)
        self.planner = Planner()
        self.stopping = False
        self._reload: str | None = None
        self._done: deque[Task] = deque()
        self._lock = service_lock(home)
        self.project: Project | None = None
        self.engine: Engine | None = None
        self.failed_runs = 0
        self.ready = threading.Event()  # set once start-up is over (tests, bench)
        self.watcher: FileWatcher | None = None
        self.demo = DemoPass()

    # -- lifecycle --------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped (or, with ``once``, until what was due has run). Returns the exit code."""
        private_dir(self.home)
        if not self._lock.acquire():
            pid = _read(self.home / "service.pid")
            raise UsageError(
                f"another avflow service is already running for {self.home}"
                + (f" (pid {pid})" if pid else "")
            )
        saved = install_signals(
            self._on_stop_signal, lambda: self.request_reload("SIGHUP"), self.waker
        )
        try:
            atomic_write(self.home / "service.pid", f"{os.getpid()}\n".encode())
            return self._run()
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            restore_signals(saved)
            (self.home / "service.pid").unlink(missing_ok=True)
            self._lock.release()
            self.waker.close()

    def _run(self) -> int:
        t0 = time.perf_counter()
        self.app = App(self.workflows, self.home, self.pm, self.clock)  # the object graph
        self.state, self.audit, self.vault = self.app.state, self.app.audit, self.app.vault
        self.store = ScheduleStore(self.state)
        self.loader = Loader(self.pm.registry, self.vault.names, compact=True)
        self.loader.path_rules = PathRules(
            self.home,
            self.workflows,
            self.settings.roots,
            self.loader.read_yaml,
            keys=own_keys(self.settings.dashboard.tls_key, self.settings.dashboard.tls_cert),
        )
        project, errors, self.watcher = load_then_watch(
            self.loader, self.workflows, self.watch and not self.once, self.request_reload
        )
        if errors:
            raise ConfigErrors(errors)
        self.demo.read(self.workflows)
        self._set_project(project)
        self.notifier = FailureNotifier(
            self.store,
            configure(self.settings.notify, self.pm.registry.notifiers),
            self.clock,
            lambda client, notifier: client_address(self._project(), client, notifier),
            lambda client: client_language(self._project(), client),
        )
        self.pm.pm.register(self.notifier, name="avflow.notify")
        now = self.clock.now()
        self.store.set_status(
            pid=os.getpid(),
            started_at=iso(now),
            heartbeat=iso(now),
            state="running",
            workflows=str(self.workflows.resolve()),
            mode="once" if self.once else "service",
            heartbeat_every=self.settings.heartbeat,
        )
        self.runner = Runner(
            lambda: self._engine(),
            self.settings.concurrency.max_runs,
            self.settings.concurrency.max_runs_per_client,
            self._finished,
        )
        self.triggers = Triggers(self.pm.registry, self.vault, self.fire_event, self.home)
        self.triggers.failed = self.notifier.trigger_failed
        try:
            self._finish_interrupted()
            self._schedule_all(self.clock.now(), start=True)
            self._announce(t0)
            self.demo.start(self.store, self._project(), self.runner.submit, self.clock.now())
            if not self.once:
                self.triggers.sync(self._project())
            self.ready.set()
            self._loop()
        finally:
            self._shutdown()
        return 1 if (self.once and self.failed_runs) else 0

    def _announce(self, t0: float) -> None:
        """The start-up line, in plain words, then the next real firing (gating applied)."""
        extra = {"seconds": round(time.perf_counter() - t0, 3), "pid": os.getpid()}
        announce_start(self._project(), list(self.planner.jobs.values()), self, extra)

    def _finish_interrupted(self) -> None:
        """Finish the runs a killed process left behind, before anything new starts."""
        self.failed_runs += finish_interrupted(self._engine())
        # approvals decided, or past their deadline, while no service ran; then watch them
        self.approval_watch = ApprovalWatch(self.app, self._engine, self.runner.submit)
        self.approval_watch.start(thread=not self.once)  # docs/approvals.md

    def _loop(self) -> None:
        beat_every = self.settings.heartbeat
        next_beat = time.monotonic() + beat_every
        while not self.stopping:
            if self._reload is not None:
                reason, self._reload = self._reload, None
                self.reload(reason)
            self._drain_done()
            now = self.clock.now()
            if not self.once:
                self._dispatch(self.planner.collect(now), now)
            elif self.runner.idle() and not self._done:
                return
            if time.monotonic() >= next_beat:
                self.store.set_status(heartbeat=iso(now))
                next_beat = time.monotonic() + beat_every
            if self.stopping or self._reload is not None or self._done:
                continue
            # wake for the heartbeat (a fake clock's time just jumps to the next firing)
            cap = self.clock.span(next_beat - time.monotonic())
            wait = until(now, None if self.once else self.planner.next_due(), cap)
            self.waker.wait(max(wait, 0.0), busy=not self.runner.idle())

    def _shutdown(self) -> None:
        log.info("service stopping")
        if hasattr(self, "runner"):
            if hasattr(self, "approval_watch"):
                self.approval_watch.stop()
            self.runner.stop()  # queued tasks never started: their firings stay pending in state.db
            self.triggers.stop_all()
            if not self.runner.wait_idle(self.settings.stop_timeout):
                log.warning(
                    "runs still going after stop_timeout; they resume at the next start",
                    stop_timeout=self.settings.stop_timeout,
                )
            self._drain_done()
            self._persist(self.planner.jobs.values())
            self.notifier.close()
            self.pm.pm.unregister(name="avflow.notify")
            self.store.set_status(state="stopped", heartbeat=iso(self.clock.now()))
            self.audit.sync()
        log.info("service stopped")

    def stop(self) -> None:
        self.stopping = True
        self.waker.wake()

    def _on_stop_signal(self, *_: object) -> None:
        if self.stopping:  # a second Ctrl-C or SIGTERM: do not wait for running runs
            log.warning("stopping now; interrupted runs resume at the next start")
            os._exit(130)
        self.stop()

    def request_reload(self, reason: str) -> None:
        self._reload = reason
        self.waker.wake()

    # -- project and jobs -------------------------------------------------------------------------
    def _project(self) -> Project:
        assert self.project is not None
        return self.project

    def _engine(self) -> Engine:
        assert self.engine is not None
        return self.engine

    def _set_project(self, project: Project) -> None:
        self.project = project
        self.engine = self.app.engine_for(project)

    def _schedule_all(self, now: datetime, start: bool) -> None:
        """At start: catch up missed firings from what ``state.db`` remembers, then schedule."""
        persisted = self.store.load()
        decisions = []
        lookback = ON_TIME if self.once else timedelta(0)
        for key, job in jobs_of(self._project()).items():
            fp, next_at, _ = persisted.get(key, (None, None, None))
            if fp == job.fingerprint and next_at is not None:
                if next_at <= now:
                    decision, due = decide(job, next_at, now)
                    decisions.append(decision)
                else:
                    due = next_at
            else:
                due = job.schedule.next_after(now - lookback)
                if self.once and due is not None and due <= now:
                    decision, due = decide(job, due, now)
                    decisions.append(decision)
            self.planner.add(job, due)
        stale = [k for k in persisted if k not in self.planner.jobs]
        if stale:
            self.store.forget(stale)
        self._dispatch(decisions, now)
        self._persist(  # only what changed: a restart usually finds every next firing as it was
            j
            for j in self.planner.jobs.values()
            if persisted.get(j.key, (None, None))[:2] != (j.fingerprint, j.pending_from())
        )

    def reload(self, reason: str) -> None:
        """Load the workflows again; a file with errors keeps its last good version."""
        project, errors = self.loader.load(self.workflows)
        merged, kept = merge(self.project, project, list(errors))
        log_errors(errors, merged, kept)
        self._set_project(merged)
        now = self.clock.now()
        new_jobs = jobs_of(merged)
        added, changed, removed = apply_jobs(self.planner, new_jobs, now)
        if removed:
            self.store.forget(removed)
        self._persist([self.planner.jobs[k] for k in new_jobs])
        if not self.once:
            self.triggers.sync(merged)
        log.info(
            "workflows reloaded",
            reason=reason,
            added=added,
            changed=changed,
            removed=["/".join(k) for k in removed],
            kept_last_good=kept,
            errors=len(errors),
            scheduled=len(self.planner.jobs),
        )

    def _persist(self, jobs: Any) -> None:
        self.store.save(
            ((j.client, j.workflow, j.fingerprint, j.pending_from()) for j in jobs),
            self.clock.now(),
        )

    # -- dispatching ------------------------------------------------------------------------------
    def _dispatch(self, decisions: list[Decision], now: datetime) -> None:
        touched = []
        for d in decisions:
            job = d.job
            wf = self._workflow(job.key)
            if wf is None:
                continue
            record_decision(self.audit, d, wf)
            if d.run:
                if self.runner.submit(Task(wf, list(d.run))):
                    job.inflight += d.run
                else:
                    for t in d.run:
                        record_overlap(self.audit, wf, t, "schedule")
            touched.append(job)
        if touched:
            self._persist(touched)

    def _workflow(self, key: tuple[str, str]) -> LoadedWorkflow | None:
        client = self._project().clients.get(key[0])
        return client.workflows.get(key[1]) if client else None

    def fire_event(self, key: tuple[str, str], trigger: str, payload: Mapping[str, Any]) -> None:
        """Called from a trigger's thread for each event."""
        wf = self._workflow(key)
        if wf is None or self.stopping:
            return
        job_gate = None
        if wf.timing.when == "working_hours":
            job_gate = Gate(self._project().clients[key[0]].profile)
        now = self.clock.now()
        reason = job_gate.reason(now) if job_gate else None
        if reason is not None:
            record_gated_event(self.audit, wf, trigger, reason)
            return
        if not self.runner.submit(Task(wf, [], trigger=trigger, event=dict(payload))):
            record_overlap(self.audit, wf, None, trigger)

    def _finished(self, task: Task) -> None:
        self._done.append(task)
        self.waker.wake()

    def _drain_done(self) -> None:
        touched = []
        while self._done:
            task = self._done.popleft()
            self.failed_runs += sum(o.status == "failed" for o in task.outcomes) + (
                task.error is not None
            )
            job = self._release(task)
            if job is not None:
                touched.append(job)
            if self.demo.finished(task):
                announce_next(self._project(), list(self.planner.jobs.values()), self.clock.now())
        if touched:
            self._persist(touched)

    def _release(self, task: Task) -> Job | None:
        job = self.planner.jobs.get(task.key)
        if job is None or not task.scheduled:
            return None
        handled = task.scheduled[: len(task.outcomes) + (task.error is not None)]
        job.inflight = [t for t in job.inflight if t not in handled]
        return job


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


__all__ = ["Service", "service_lock"]
