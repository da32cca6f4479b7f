"""``avflow.testing``: a pytest plugin and harness for plugin authors (and avflow's own tests).

Fixtures:

``avflow_harness``
    A `Harness` with a temporary workflows folder and home (``h.workflows``, ``h.home``: in a
    folder of their own, never in the test's ``tmp_path``), a fake clock and a plugin manager
    built for the test (entry-point plugins included, so an installed plugin is under test).

The harness writes clients and workflows, runs them, and returns a `RunResult` with the run's
status, outputs, effects and audit records. `check_action_contract` runs the checks every action
must pass. ``h.service()`` and ``h.command()`` start real avflow processes on the harness's folders
(`ServiceProcess`, `command`: a service to SIGKILL, a command line's exit code and output). It builds its process through `avflow.app.App` like the command line and the service,
injecting only a clock and a fault point (`Harness.fault`, `Harness.crash_at`): see
docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from avflow import redact
from avflow.app import App
from avflow.approvals import Approval
from avflow.clock import FakeClock
from avflow.engine import RunOutcome
from avflow.loader import LoadedWorkflow
from avflow.plugins import PluginManager
from avflow.testing_process import ServiceProcess, command, wait_for

__all__ = [
    "Harness",
    "RunResult",
    "ServiceProcess",
    "SimulatedCrash",
    "check_action_contract",
    "command",
    "wait_for",
]


class SimulatedCrash(BaseException):
    """Raised inside a run to stop it dead, as a kill would (not caught by the engine)."""


@dataclass
class RunResult(RunOutcome):
    """A run's outcome plus the audit records it wrote."""

    audit: list[dict[str, Any]] = field(default_factory=list)

    def performed(self) -> list[str]:
        """Keys of the effects that are done."""
        return [e.key for e in self.effects if e.status == "done"]


def _dump(doc: Mapping[str, Any] | str) -> str:
    if isinstance(doc, str):
        return doc
    from avflow.yamlfile import dump

    return dump(json.loads(json.dumps(doc)))


class Harness:
    """A sandboxed avflow: workflows folder, home, fake clock, plugin manager."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        pm: PluginManager | None = None,
        clock: FakeClock | None = None,
        plugins: Iterable[object] = (),
    ) -> None:
        """``plugins``: extra plugin objects (modules or instances with hook implementations)
        registered beside the installed ones, e.g. a fake provider defined in a test."""
        self.workflows = tmp_path / "workflows"
        self.home = tmp_path / "home"
        self.workflows.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.clock = clock or FakeClock()
        extra = [(f"test-plugin-{i}", p) for i, p in enumerate(plugins)]
        self.pm = pm or PluginManager(extra=extra)
        self.fault: Callable[[str, str], None] | None = None  # see `crash_at`
        self._app: App | None = None

    # -- writing files ----------------------------------------------------------------------------
    def client(
        self, client_id: str, profile: Mapping[str, Any] | str | None = None, **fields: Any
    ) -> Path:
        """Write ``workflows/<client_id>/client.yaml`` (name and timezone default sensibly)."""
        doc: Mapping[str, Any] | str = (
            profile
            if profile is not None
            else {"name": client_id.title(), "timezone": "UTC", **fields}
        )
        path = self.workflows / client_id / "client.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(doc))
        self._app = None
        return path

    def workflow(self, client_id: str, workflow_id: str, doc: Mapping[str, Any] | str) -> Path:
        path = self.workflows / client_id / f"{workflow_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(doc))
        self._app = None
        return path

    def secret(self, client_id: str, name: str, value: str) -> None:
        self.app.vault.set(client_id, name, value)
        self._app = None

    # -- running ----------------------------------------------------------------------------------
    @property
    def app(self) -> App:
        if self._app is None:
            self._app = App(self.workflows, self.home, self.pm, self.clock, fault=self._fault)
        return self._app

    def reload(self) -> App:
        self._app = None
        return self.app

    def find(self, ref: str) -> LoadedWorkflow:
        return self.app.project.find(ref)

    def run(
        self,
        ref: str,
        *,
        dry_run: bool = False,
        scheduled_at: datetime | str | None = None,
        event: dict[str, Any] | None = None,
        trigger: str = "manual",
    ) -> RunResult:
        """Run ``client/workflow`` now and return what it did."""
        if isinstance(scheduled_at, str):
            scheduled_at = datetime.fromisoformat(scheduled_at)
        outcome = self.app.engine.trigger(
            self.find(ref),
            scheduled_at=scheduled_at,
            dry_run=dry_run,
            event=event,
            trigger="schedule" if scheduled_at else trigger,
        )
        return self._result(outcome)

    def resume(self) -> list[RunResult]:
        """Resume interrupted runs, as a restarted service would."""
        return [self._result(o) for o in self.app.engine.resume_interrupted()]

    def approvals(self, client_id: str | None = None) -> list[Approval]:
        """The approvals waiting for a decision (docs/approvals.md)."""
        from avflow import approvals

        return approvals.pending(self.app, client_id, limit=500)

    def decide(
        self, approval_id: str, *, approve: bool = True, by: str = "test", reason: str | None = None
    ) -> RunResult | None:
        """Approve or reject, then take up the waiting run as the service would: how it ended."""
        from avflow import approvals

        decided = approvals.decide(self.app, approval_id, approve=approve, by=by, reason=reason)
        wf = self.app.project.clients[decided.client].workflows[decided.workflow]
        outcome = self.app.engine.resume_waiting(wf, decided.id)
        return None if outcome is None else self._result(outcome)

    # -- real processes ---------------------------------------------------------------------------
    def service(
        self, *args: str, start: str | None = None, env: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        """``avflow run`` (or ``avflow ARGS``) on these folders in a child process, its clock
        starting at ``start``; the installed plugins only (not ``plugins=`` objects)."""
        return ServiceProcess(self.workflows, self.home, *args, start=start, env=env)

    def command(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``avflow ARGS`` on these folders in a child process (exit code, stdout, stderr)."""
        return command(self.workflows, self.home, *args, env=env)

    def _fault(self, point: str, key: str) -> None:
        if self.fault is not None:
            self.fault(point, key)

    def crash_at(self, n: int, edge: str = "after") -> None:
        """Make the n-th performed effect (1-based) stop the run dead at ``edge``.

        ``"before"``: after the intent is recorded, before the effect is performed;
        ``"after"``: after it is performed, before its outcome is recorded (the unknown window);
        ``"recorded"``: after its outcome is recorded.

        For other faults set ``h.fault`` to a function ``(point, key)``: the ledger calls it at
        each of these points (`avflow.ledger.FaultPoint`).
        """
        count = {"n": 0}

        def crash(point: str, key: str) -> None:
            if point == edge:
                count["n"] += 1
                if count["n"] == n:
                    self.fault = None
                    raise SimulatedCrash(f"simulated crash {edge} effect {key}")

        self.fault = crash

    def audit(self, client_id: str) -> list[dict[str, Any]]:
        return self.app.audit.records(client_id)

    def _result(self, outcome: RunOutcome) -> RunResult:
        records = [r for r in self.audit(outcome.client) if r.get("run") == outcome.id]
        return RunResult(**vars(outcome), audit=records)


def check_action_contract(
    harness: Harness, ref: str, *, remote_state: Any = None, effects: int = 2
) -> None:
    """Checks every action must pass, run against workflow ``ref``:

    - its parameters produce a JSON schema;
    - a dry run performs nothing (``remote_state()`` — a snapshot of the outside world, when
      given — is unchanged, and no effect is recorded as done);
    - a run interrupted after an effect and resumed repeats no effect.
    """
    wf = harness.find(ref)
    for step in wf.model.steps:
        action = harness.pm.registry.actions[step.uses]
        schema = action.params_model.model_json_schema()
        assert schema.get("type") == "object", f"{step.uses}: parameters must be an object schema"
    before = remote_state() if remote_state else None
    dry = harness.run(ref, dry_run=True)
    assert dry.status == "succeeded", f"dry run failed: {dry.error}"
    assert not dry.performed(), f"dry run performed effects: {dry.performed()}"
    if remote_state:
        assert remote_state() == before, "dry run changed the outside world"
    harness.crash_at(min(effects, 1), "after")
    with contextlib.suppress(SimulatedCrash):
        harness.run(ref)
    resumed = harness.resume()
    keys = [k for r in resumed for k in r.performed()]
    assert len(keys) == len(set(keys)), f"an effect was recorded twice: {keys}"


@pytest.fixture
def avflow_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A fresh `Harness` with no secrets remembered from earlier tests.

    Its folders are in a temporary folder of their own, not in the test's ``tmp_path`` (which
    stays the test's): ``h.workflows`` and ``h.home``, under pytest's base temporary folder.
    """
    redact.forget_all()
    h = Harness(tmp_path_factory.mktemp("avflow-harness"))
    yield h
    if h._app is not None and "state" in vars(h._app):
        h._app.state.close()
