"""What loading a workflows folder gives: its clients, each with its profile and workflows
(`avflow.loader` builds them; docs/architecture.md)."""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from avflow import paths
from avflow.models import ClientProfile, Workflow

if TYPE_CHECKING:
    from avflow.clientinfo import ClientInfo


class Timing(NamedTuple):
    """What the scheduler reads of a workflow (`avflow.scheduler.planner.job_for`) and whether
    it has event triggers: kept beside a compact workflow, so scheduling it validates nothing."""

    enabled: bool
    crons: tuple[str, ...]
    when: str
    catch_up: str
    grace: float
    max_catch_up: int
    events: bool


_TIMINGS: dict[Timing, Timing] = {}  # one object per distinct value (thousands of workflows)


def timing_of(model: Workflow) -> Timing:
    on = model.on
    t = Timing(
        model.enabled,
        tuple(s.cron for s in on.schedule),
        on.when,
        on.catch_up,
        on.grace,
        on.max_catch_up,
        bool(on.events),
    )
    if len(_TIMINGS) > 4096:
        _TIMINGS.clear()
    return _TIMINGS.setdefault(t, t)


@dataclass(slots=True)
class LoadedWorkflow:
    client: str
    id: str
    path: Path
    model: Workflow
    raw: Any = None  # the file's `Doc` while it is being checked; None once loaded

    @property
    def name(self) -> str:
        return self.model.name or self.id

    @property
    def ref(self) -> str:
        return f"{self.client}/{self.id}"

    @property
    def timing(self) -> Timing:
        return timing_of(self.model)


class CompactWorkflow(LoadedWorkflow):
    """A checked workflow kept small: its file's data, marshalled (about 0.5 KB instead of 3 KB
    of model objects), validated again (about 20 microseconds) each time ``model`` is read. The
    service keeps its thousands of workflows this way; the path is kept as text (a `Path` with
    its cached parts is several times larger). Its name and `Timing`, read while the model was
    in hand, are kept as they are: the scheduler and the start-up line validate nothing."""

    __slots__ = ("_data", "_model", "_name", "_path", "_timing")

    def __init__(self, wf: LoadedWorkflow, data: Any) -> None:
        self.client, self.id, self.raw = wf.client, wf.id, None
        self._path = str(wf.path)
        self._data = marshal.dumps(data)
        self._model: Workflow | None = None
        self._name = wf.name
        self._timing = wf.timing

    @property
    def path(self) -> Path:
        return Path(self._path)

    @path.setter
    def path(self, value: Path) -> None:
        self._path = str(value)

    @property
    def model(self) -> Workflow:
        if self._model is not None:  # set by hand (a test): kept as given
            return self._model
        return Workflow.model_validate(marshal.loads(self._data))

    @model.setter
    def model(self, value: Workflow) -> None:
        self._model = value

    @property
    def name(self) -> str:
        if self._model is not None:
            return self._model.name or self.id
        return self._name

    @property
    def timing(self) -> Timing:
        return timing_of(self._model) if self._model is not None else self._timing


@dataclass
class Client:
    id: str
    path: Path
    profile: ClientProfile
    workflows: dict[str, LoadedWorkflow] = field(default_factory=dict)
    paths: paths.Confinement | None = None  # the local paths it may use (avflow.paths)

    def info(self, tz: tzinfo | None = None) -> ClientInfo:
        """The client as plugins see it (`avflow.ClientInfo`), working time included."""
        from datetime import date
        from zoneinfo import ZoneInfo

        from avflow.clientinfo import ClientInfo
        from avflow.models import closed_ranges, parse_working_hours
        from avflow.scheduler.gating import holiday_country

        p = self.profile
        return ClientInfo(
            self.id,
            p.name,
            p.timezone,
            tz or ZoneInfo(p.timezone),
            self.path,
            working_hours={d: tuple(r) for d, r in parse_working_hours(p.working_hours).items()},
            holidays=holiday_country(p.holidays),
            closed=closed_ranges(p.closed, range(date.today().year - 1, date.today().year + 11)),
            paths=self.paths,
            language=p.language,
        )


@dataclass
class Project:
    root: Path
    clients: dict[str, Client] = field(default_factory=dict)

    def workflows(self) -> list[LoadedWorkflow]:
        return [wf for c in self.clients.values() for wf in c.workflows.values()]

    def find(self, ref: str) -> LoadedWorkflow:
        from avflow.errors import UsageError

        client, _, wf = ref.partition("/")
        if not wf:
            raise UsageError(f"{ref!r}: expected CLIENT/WORKFLOW, e.g. acme/inbox")
        if client not in self.clients:
            raise UsageError(
                f"unknown client {client!r} (clients: {', '.join(sorted(self.clients)) or 'none'})"
            )
        if wf not in self.clients[client].workflows:
            known = ", ".join(sorted(self.clients[client].workflows)) or "none"
            raise UsageError(f"client {client!r} has no workflow {wf!r} (workflows: {known})")
        return self.clients[client].workflows[wf]
