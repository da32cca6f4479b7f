"""The one place that builds a process's object graph (docs/architecture.md).

`App` wires the plugin manager, the loaded workflows, state, vault, effect ledger, audit trail
and engine, each built once on first use. The command line, the service (`avflow run`) and
`avflow.testing` all use it; tests inject a clock and a fault point here, nowhere else.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cached_property
from pathlib import Path

import platformdirs
import structlog

from avflow import redact
from avflow.audit import AuditTrail
from avflow.clock import Clock
from avflow.engine import Engine
from avflow.errors import ConfigErrors, UsageError
from avflow.ledger import EffectLedger, FaultPoint
from avflow.loader import Loader, Project
from avflow.pathrules import PathRules
from avflow.paths import client_folder
from avflow.plugins import PluginManager
from avflow.state import State
from avflow.vault import Vault

HOME_BESIDE = ".avflow-home"  # a home folder next to the workflows folder (what `make run` makes)


def resolve_home(option: Path | None, workflows: Path) -> tuple[Path, str]:
    """The home folder every command uses, and where it came from (docs/operations.md).

    ``--home``, else ``$AVFLOW_HOME``, else a ``.avflow-home`` folder next to the workflows
    folder when there is one, else the platform's user data folder. A ``.avflow-home`` that is a
    symbolic link, not a folder or not the user's own is a `UsageError` (one line, exit 2): it
    is never followed, nor silently passed over for another home.
    """
    if option is not None:
        return option, "--home"
    env = os.environ.get("AVFLOW_HOME")
    if env:
        return Path(env), "AVFLOW_HOME"
    beside = Path(os.path.abspath(workflows)).parent / HOME_BESIDE
    if beside.is_symlink() or (beside.exists() and not beside.is_dir()):
        raise UsageError(f"{beside} is a symbolic link or not a folder: give the home with --home")
    if beside.is_dir():
        if beside.stat().st_uid != os.getuid():
            raise UsageError(f"{beside} belongs to another user: give the home with --home")
        return beside, f"{HOME_BESIDE} beside the workflows folder"
    return Path(platformdirs.user_data_dir("avflow")), "the platform default"


def default_home(workflows: Path | None = None) -> Path:
    """The home folder when no ``--home`` is given (see `resolve_home`)."""
    where = workflows or Path(os.environ.get("AVFLOW_WORKFLOWS") or "workflows")
    return resolve_home(None, where)[0]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (it may be replaced after logging is set up)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "info", json_logs: bool | None = None, *, utc: bool = False
) -> None:
    """structlog to stderr, secrets redacted: human lines (`avflow.console`) unless JSON lines
    are asked for (``json_logs``, else ``$AVFLOW_LOG_FORMAT=json``); ``utc``: times in UTC."""
    from avflow import console

    if json_logs is None:
        json_logs = console.wants_json(None)
    console.setup(utc=utc, bars=None if not json_logs else False)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else console.render
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact.structlog_processor,  # type: ignore[list-item]
            renderer,
            redact.rendered,  # what the renderer made of objects (reprs, tracebacks) too
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class App:
    """Everything one command needs, built lazily and once."""

    def __init__(
        self,
        workflows: Path,
        home: Path,
        pm: PluginManager,
        clock: Clock | None = None,
        *,
        fault: FaultPoint | None = None,
    ) -> None:
        self.workflows_dir = workflows
        self.home = home
        self.pm = pm
        self.clock = clock or Clock()
        self.fault = fault

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.home)

    @cached_property
    def path_rules(self) -> PathRules:
        """What local paths each client may use (its folder, its roots; never the home)."""
        from avflow.scheduler.settings import load_settings

        settings = load_settings(self.home / "service.yaml")
        return PathRules(self.home, self.workflows_dir, settings.roots)

    @cached_property
    def loader(self) -> Loader:
        loader = Loader(self.pm.registry, secret_names=self.vault.names)
        loader.path_rules = self.path_rules
        loader.path_rules.read_yaml = loader.read_yaml
        return loader

    def load(self) -> tuple[Project, list[Exception]]:
        project, errors = self.loader.load(self.workflows_dir)
        return project, list(errors)

    @cached_property
    def project(self) -> Project:
        project, errors = self.loader.load(self.workflows_dir)
        if errors:
            raise ConfigErrors(errors)
        return project

    def focus(self, client_id: str) -> Project:
        """Load only ``client_id``'s folder (so one client's broken file never blocks another's run)."""
        cdir = client_folder(self.workflows_dir, client_id)
        client, errors = self.loader.load_client(cdir)
        if errors or client is None:
            raise ConfigErrors(errors)
        self.project = Project(self.workflows_dir, {client.id: client})
        return self.project

    @cached_property
    def state(self) -> State:
        return State(self.home / "state.db")

    @cached_property
    def audit(self) -> AuditTrail:
        trail = AuditTrail(self.home, self.clock.now)
        trail.state = self.state  # where the trail's sealed end is remembered
        return trail

    @cached_property
    def ledger(self) -> EffectLedger:
        return EffectLedger(self.state, self.audit, self.fault)

    @cached_property
    def engine(self) -> Engine:
        return self.engine_for(self.project)

    def engine_for(self, project: Project) -> Engine:
        """An engine for ``project`` (the service makes a new one when the workflows reload)."""
        from avflow import console

        console.set_zones({c.id: c.profile.timezone for c in project.clients.values()})
        return Engine(
            self.home,
            self.pm,
            project,
            clock=self.clock,
            state=self.state,
            audit=self.audit,
            ledger=self.ledger,
            vault=self.vault,
        )
