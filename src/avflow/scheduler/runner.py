"""Running firings in worker threads, within a global and a per-client concurrency limit.

A workflow never runs twice at once: while one of its tasks is queued or running, another firing
of it is refused (the service records it as skipped). A task waiting for a free slot keeps its
place in the queue, in firing order.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from avflow.engine import Engine, RunOutcome
from avflow.loader import LoadedWorkflow

log = structlog.get_logger("avflow.scheduler")


@dataclass(eq=False)
class Task:
    """One or more firings of one workflow, run in order in one worker thread."""

    wf: LoadedWorkflow
    scheduled: list[datetime] = field(default_factory=list)  # empty: an event or manual run
    trigger: str = "schedule"
    event: dict[str, Any] | None = None
    resume: str | None = None  # a decided approval whose waiting run to take up
    outcomes: list[RunOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.wf.client, self.wf.id)


class Runner:
    """Starts queued tasks as slots free up; reports each finished task to ``on_done``."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        max_runs: int,
        max_per_client: int,
        on_done: Callable[[Task], None],
    ) -> None:
        self._engine = engine
        self.max_runs = max_runs
        self.max_per_client = max_per_client
        self._on_done = on_done
        self._lock = threading.Condition()
        self._queue: deque[Task] = deque()
        self._busy: set[tuple[str, str]] = set()
        self._per_client: dict[str, int] = {}
        self._running = 0
        self._threads: set[threading.Thread] = set()
        self.accepting = True
        self.peak = 0  # most runs at once, for tests and status
        self.peak_per_client: dict[str, int] = {}

    def busy(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._busy

    def submit(self, task: Task) -> bool:
        """Queue ``task``; False if its workflow is already queued or running, or we are stopping."""
        with self._lock:
            if not self.accepting or task.key in self._busy:
                return False
            self._busy.add(task.key)
            self._queue.append(task)
            self._start_ready()
            return True

    def _start_ready(self) -> None:
        # called with the lock held
        for task in list(self._queue):
            if self._running >= self.max_runs:
                return
            client = task.wf.client
            if self._per_client.get(client, 0) >= self.max_per_client:
                continue
            self._queue.remove(task)
            self._running += 1
            self._per_client[client] = self._per_client.get(client, 0) + 1
            self.peak = max(self.peak, self._running)
            self.peak_per_client[client] = max(
                self.peak_per_client.get(client, 0), self._per_client[client]
            )
            t = threading.Thread(
                target=self._work, args=(task,), name=f"run-{task.wf.ref}", daemon=True
            )
            self._threads.add(t)
            t.start()

    def _work(self, task: Task) -> None:
        try:
            engine = self._engine()
            if task.scheduled:
                for when in task.scheduled:
                    if not self.accepting and task.outcomes:
                        break  # stopping: later catch-up firings wait for the next start
                    task.outcomes.append(
                        engine.trigger(task.wf, scheduled_at=when, trigger="schedule")
                    )
            elif task.resume is not None:
                resumed = engine.resume_waiting(task.wf, task.resume)
                task.outcomes.extend([resumed] if resumed is not None else [])
            else:
                task.outcomes.append(
                    engine.trigger(task.wf, trigger=task.trigger, event=task.event)
                )
        except Exception as exc:  # a bug or a broken plugin must not kill the service
            task.error = f"{type(exc).__name__}: {exc}"
            log.error("run crashed", client=task.wf.client, workflow=task.wf.id, error=task.error)
        finally:
            with self._lock:
                self._running -= 1
                self._per_client[task.wf.client] -= 1
                self._busy.discard(task.key)
                self._threads.discard(threading.current_thread())
                self._start_ready()
                self._lock.notify_all()
            self._on_done(task)

    def stop(self) -> list[Task]:
        """Refuse new tasks; return the queued ones that never started."""
        with self._lock:
            self.accepting = False
            dropped = list(self._queue)
            self._queue.clear()
            for task in dropped:
                self._busy.discard(task.key)
            return dropped

    def idle(self) -> bool:
        with self._lock:
            return self._running == 0 and not self._queue

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no task runs; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._running == 0 and not self._queue, timeout)
