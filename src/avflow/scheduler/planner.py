"""The scheduling core, free of threads and I/O: which workflow fires when, and what to do then.

A `Job` is one scheduled workflow. The `Planner` keeps the jobs in a heap ordered by their next
firing; `collect(now)` pops every job that came due and decides, for each, which scheduled
instants to run: normally just the one that is due, but after a downtime (or a laptop that slept)
several firings were missed, and ``catch_up`` decides: ``latest`` runs the most recent one,
``all`` runs each in order (at most ``max_catch_up``), ``none`` runs none. Firings older than
``grace`` are never run. With ``when: working_hours`` a firing outside the client's working
time is gated: skipped and reported, not queued.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from avflow.loader import Client, LoadedWorkflow, Project
from avflow.scheduler.firing import Schedule, schedule_of
from avflow.scheduler.gating import Gate

ON_TIME = timedelta(seconds=60)  # a firing handled this late is still "due now", not "missed"


@dataclass(eq=False, slots=True)
class Job:
    """One scheduled workflow, as the planner sees it."""

    client: str
    workflow: str
    schedule: Schedule
    gate: Gate | None
    catch_up: str
    grace: timedelta
    max_catch_up: int
    fingerprint: str
    due: datetime | None = None
    inflight: list[datetime] = field(default_factory=list)  # dispatched, not finished
    removed: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.client, self.workflow)

    @property
    def ref(self) -> str:
        return f"{self.client}/{self.workflow}"

    def pending_from(self) -> datetime | None:
        """What to persist: the earliest firing not yet fully handled."""
        return min(self.inflight) if self.inflight else self.due


@dataclass
class Decision:
    """What to do with the firings of one job that came due."""

    job: Job
    run: list[datetime]  # scheduled instants to run, oldest first
    gated: list[tuple[datetime, str]]  # firings skipped by gating, with the reason
    missed: int = 0  # allowed firings not run because of the catch-up policy
    expired: bool = False  # some firings were older than the grace window
    late: bool = False  # more than one firing, or one later than ON_TIME: a catch-up


_SHARED: dict[tuple[str, tuple[str, ...]], tuple[Schedule, str]] = {}


def fingerprint(crons: Sequence[str], timezone: str) -> str:
    """Identifies what a persisted next firing was computed from."""
    return _shared(tuple(crons), timezone)[1]


def _shared(crons: tuple[str, ...], timezone: str) -> tuple[Schedule, str]:
    """The `Schedule` (immutable) and fingerprint of ``crons`` in ``timezone``, made once per
    process: thousands of workflows share a few hundred (zone, crons) pairs."""
    key = (timezone, crons)
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) > 4096:
            _SHARED.clear()
        data = json.dumps([timezone, list(crons)]).encode()
        found = _SHARED[key] = (schedule_of(crons, timezone), hashlib.sha1(data).hexdigest()[:16])
    return found


_GRACES: dict[float, timedelta] = {}  # a few distinct values


def job_for(client: Client, wf: LoadedWorkflow, gates: dict[str, Gate] | None = None) -> Job | None:
    """The job of a workflow, or None when it has no schedule or is disabled.

    ``gates`` shares one `Gate` per client among its workflows (pass the same dict for one load).
    """
    t = wf.timing  # a kept workflow has it at hand: nothing is validated again
    if not t.enabled or not t.crons:
        return None
    tz = client.profile.timezone
    gate = None
    if t.when == "working_hours":
        gates = {} if gates is None else gates
        gate = gates.get(client.id)
        if gate is None:
            gate = gates[client.id] = Gate(client.profile)
    schedule, fp = _shared(t.crons, tz)
    grace = _GRACES.get(t.grace)
    if grace is None:
        if len(_GRACES) > 1024:
            _GRACES.clear()
        grace = _GRACES[t.grace] = timedelta(seconds=t.grace)
    return Job(client.id, wf.id, schedule, gate, t.catch_up, grace, t.max_catch_up, fp)


def jobs_of(project: Project) -> dict[tuple[str, str], Job]:
    """The job of every scheduled workflow of ``project``, one `Gate` per client."""
    gates: dict[str, Gate] = {}
    jobs = {}
    for client in project.clients.values():
        for wf in client.workflows.values():
            job = job_for(client, wf, gates)
            if job is not None:
                jobs[job.key] = job
    return jobs


class Planner:
    """Jobs ordered by next firing. Not thread-safe: the service's main loop owns it."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], Job] = {}
        self._heap: list[tuple[datetime, int, Job]] = []
        self._seq = 0

    def add(self, job: Job, due: datetime | None) -> None:
        old = self.jobs.get(job.key)
        if old is not None and old is not job:
            old.removed = True
        self.jobs[job.key] = job
        job.due = due
        self._push(job)

    def remove(self, key: tuple[str, str]) -> Job | None:
        job = self.jobs.pop(key, None)
        if job is not None:
            job.removed = True
        return job

    def _push(self, job: Job) -> None:
        if job.due is not None:
            self._seq += 1
            heapq.heappush(self._heap, (job.due, self._seq, job))

    def next_due(self) -> datetime | None:
        while self._heap:
            due, _, job = self._heap[0]
            if job.removed or job.due != due:
                heapq.heappop(self._heap)  # stale entry (removed or rescheduled)
                continue
            return due
        return None

    def next_job(self) -> Job | None:
        """The job whose firing comes first, if any."""
        return self._heap[0][2] if self.next_due() is not None else None

    def collect(self, now: datetime) -> list[Decision]:
        """Pop every job due at ``now`` and decide what to run; reschedule each after ``now``."""
        out: list[Decision] = []
        while True:
            due = self.next_due()
            if due is None or due > now:
                return out
            _, _, job = heapq.heappop(self._heap)
            decision, job.due = decide(job, due, now)
            out.append(decision)
            self._push(job)


def decide(job: Job, first: datetime, now: datetime) -> tuple[Decision, datetime | None]:
    """Apply gating, the grace window and the catch-up policy to the firings in ``[first, now]``.

    ``first`` is a firing of the job. Returns the decision and the job's next firing after ``now``.
    """
    oldest = now - job.grace
    expired = first < oldest
    t: datetime | None = (
        first if not expired else job.schedule.next_after(oldest - timedelta(microseconds=1))
    )
    firings = []
    while t is not None and t <= now:
        firings.append(t)
        t = job.schedule.next_after(t)
    gated: list[tuple[datetime, str]] = []
    allowed: list[datetime] = []
    for f in firings:
        reason = job.gate.reason(f) if job.gate is not None else None
        if reason is None:
            allowed.append(f)
        else:
            gated.append((f, reason))
    if job.catch_up == "all":
        run = allowed[-job.max_catch_up :]
    elif job.catch_up == "latest":
        run = allowed[-1:]
    else:
        run = [f for f in allowed if now - f <= ON_TIME]
    late = expired or len(firings) > 1 or any(now - f > ON_TIME for f in firings)
    return Decision(job, run, gated, len(allowed) - len(run), expired, late), t
