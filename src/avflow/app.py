"""The one place that builds a process's object graph (docs/architecture.md).

`App` wires the plugin manager, the loaded workflows, state, vault, effect ledger, audit trail
and engine, each built once on first use. The command line, the service (`avflow run`) and
`avflow.testing` all use it; tests inject a clock and a fault point here, nowhere else.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from avflow.clock import Clock
from avflow.errors import ConfigErrors

# the home folder and logging moved to avflow.process; these names stay for their callers
from avflow.process import HOME_BESIDE, configure_logging, default_home, resolve_home

if TYPE_CHECKING:  # each is imported where it is first built: a command pays only for what it uses
    from avflow.audit import AuditTrail
    from avflow.engine import Engine
    from avflow.ledger import EffectLedger, FaultPoint
    from avflow.loader import Loader, Project
    from avflow.pathrules import PathRules
    from avflow.plugins import PluginManager
    from avflow.state import State
    from avflow.vault import Vault

__all__ = ["HOME_BESIDE", "App", "configure_logging", "default_home", "resolve_home"]


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
        # set by a command that only reads (`avflow runs`, `status`...): the home folder and its
        # state.db are then never created (see `state`)
        self.read_only = False

    @cached_property
    def vault(self) -> Vault:
        from avflow.vault import Vault

        return Vault(self.home)

    @cached_property
    def path_rules(self) -> PathRules:
        """What local paths each client may use (its folder, its roots; never the home)."""
        from avflow.pathrules import PathRules, own_keys

        path = self.home / "service.yaml"
        roots: dict[str, list[str]] = {}
        tls_key = tls_cert = None
        if path.exists():  # without it every setting is its default: no roots, no TLS key
            from avflow.scheduler.settings import load_settings

            settings = load_settings(path)  # checked whole: its errors are reported here too
            roots, tls_key, tls_cert = (
                settings.roots,
                settings.dashboard.tls_key,
                settings.dashboard.tls_cert,
            )
        keys = own_keys(tls_key, tls_cert)
        return PathRules(self.home, self.workflows_dir, roots, keys=keys)

    @cached_property
    def loader(self) -> Loader:
        from avflow.loader import Loader

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
        from avflow.loader import Project
        from avflow.paths import client_folder

        cdir = client_folder(self.workflows_dir, client_id)
        client, errors = self.loader.load_client(cdir)
        errors += self.loader.service_roots_errors(self.workflows_dir)
        if errors or client is None:
            raise ConfigErrors(errors)
        self.project = Project(self.workflows_dir, {client.id: client})
        return self.project

    @cached_property
    def state(self) -> State:
        """``state.db``, created with the home folder when missing, except for a command that
        only reads (`read_only`): it gets an empty database in memory, as a new home would
        answer, and nothing is created (a mistyped ``--home`` leaves no stray home behind)."""
        from avflow.state import State

        if self.read_only and self.missing_state() is not None:
            return State.empty(self.home / "state.db")
        return State(self.home / "state.db")

    def missing_state(self) -> str | None:
        """Why the home folder has no ``state.db`` to read (it does not exist, or nothing has
        run with it yet), or None. A home that cannot be used (a file, a link to nowhere) is
        not "missing": opening it is the error `State` reports."""
        try:
            os.lstat(self.home / "state.db")
            return None
        except FileNotFoundError:
            pass
        except OSError:  # a file on the way, a folder we may not read: `State` says which
            return None
        try:
            os.stat(self.home)
        except FileNotFoundError:  # not there (a link to nowhere is `State`'s error)
            return None if os.path.lexists(self.home) else "it does not exist"
        except OSError:
            return None
        return "it has no state.db: nothing has run with it yet" if self.home.is_dir() else None

    @cached_property
    def audit(self) -> AuditTrail:
        from avflow.audit import AuditTrail

        # where the trail's sealed end is remembered; a reader never seals: it opens no state.db
        return AuditTrail(self.home, self.clock.now, None if self.read_only else self.state)

    @cached_property
    def ledger(self) -> EffectLedger:
        from avflow.ledger import EffectLedger

        return EffectLedger(self.state, self.audit, self.fault)

    @cached_property
    def engine(self) -> Engine:
        return self.engine_for(self.project)

    def engine_for(self, project: Project) -> Engine:
        """An engine for ``project`` (the service makes a new one when the workflows reload)."""
        from avflow import console
        from avflow.engine import Engine

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
