"""The ``avflow`` group loads each command when it is used (docs/architecture.md).

``avflow --help`` lists the core's commands from `CORE_COMMANDS` and the plugins' from their
packages' metadata (entry points in the group ``avflow.commands``), so it imports neither a
command module, nor a plugin, nor pydantic. Running a command imports its module; running a
plugin's command loads the plugins and takes the command their ``register_commands`` hook adds
(a plugin that declares no metadata still works: its commands are found when used, and are
listed once the plugins are loaded, as with ``--plugins-dir``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from avflow.entrypoints import BLOCK_ENV, COMMANDS_GROUP, DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP
from avflow.process import quiet_croniter, quiet_structlog

if TYPE_CHECKING:
    from avflow.plugins import PluginManager


# command -> (its module, the first paragraph of its help). A test checks each text against the
# command's own: change both together.
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "approvals": (
        "avflow.cli.approvals",
        "List the approvals waiting for a decision, oldest first (times in each client's zone).",
    ),
    "approve": (
        "avflow.cli.approvals",
        "Approve a waiting step: its run goes on (exit 2: no such approval, or already decided).",
    ),
    "reject": (
        "avflow.cli.approvals",
        "Reject a waiting step: its run stops, recorded as rejected (exit 2: no such approval, or "
        "already decided).",
    ),
    "audit": (
        "avflow.cli.audit",
        "The clients' tamper-evident audit trails: show, verify, export, report, prune.",
    ),
    "client": ("avflow.cli.scaffold", "Clients: add one."),
    "auth": (
        "avflow.cli.auth",
        "Sign in to an OAuth provider; keep the refresh token in a client's vault.",
    ),
    "dashboard": (
        "avflow.cli.dashboard",
        "Open the dashboard of the service running for this home folder in a browser.",
    ),
    "effects": (
        "avflow.cli.effects",
        "The effects of a run, and settling one whose outcome is unknown.",
    ),
    "init": (
        "avflow.cli.scaffold",
        "Create a workflows folder (DIR, default the --workflows folder) with one commented "
        "client to start from.",
    ),
    "list": ("avflow.cli.validate", "List clients and their workflows."),
    "next": (
        "avflow.cli.service",
        "Show the next firings (gating applied), in each client's local time.",
    ),
    "plugin": ("avflow.cli.plugins", "Plugin development helpers."),
    "plugins": (
        "avflow.cli.plugins",
        "List loaded plugins with the actions, account types, triggers and notifiers each "
        "registered.",
    ),
    "resume": (
        "avflow.cli.runs",
        "Finish runs that a crash or a kill left unfinished (``avflow run`` does this on start).",
    ),
    "run": (
        "avflow.cli.service",
        "Run the scheduler in the foreground until SIGTERM or Ctrl-C (SIGHUP reloads).",
    ),
    "runs": (
        "avflow.cli.runs",
        "Show recent runs, newest first (the home folder read is named first, on stderr).",
    ),
    "schema": (
        "avflow.cli.validate",
        "Print the JSON Schema of workflow files (or client profiles), for editors.",
    ),
    "secrets": (
        "avflow.cli.secrets",
        "Manage a client's encrypted secrets (used as ${secret:NAME}).",
    ),
    "status": (
        "avflow.cli.service",
        "Show the service's heartbeat and each workflow's last and next run; flag failing or "
        "silent ones.",
    ),
    "trigger": (
        "avflow.cli.runs",
        "Run one workflow now. Exits 0 if the run succeeded, 1 if it failed.",
    ),
    "validate": (
        "avflow.cli.validate",
        "Check every client profile and workflow; print each error as file:line:column.",
    ),
    "vault": ("avflow.cli.secrets", "The vault key (docs/secrets.md)."),
}


def declared_plugin_commands() -> dict[str, str]:
    """Commands the installed plugins declare in their metadata: name -> one line of help.

    Honours ``AVFLOW_DISABLE_PLUGIN_AUTOLOAD`` and ``AVFLOW_BLOCK_PLUGINS`` as loading does: a
    plugin that would not be loaded lists nothing.
    """

    if os.environ.get(DISABLE_AUTOLOAD_ENV):
        return {}
    from importlib.metadata import entry_points

    blocked = {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
    found: dict[str, str] = {}
    for ep in entry_points(group=COMMANDS_GROUP):
        dist = ep.dist
        plugins = (
            {e.name for e in dist.entry_points if e.group == ENTRY_POINT_GROUP} if dist else set()
        )
        if not plugins or plugins <= blocked:
            continue  # not a plugin avflow would load
        try:
            summary = (dist.metadata["Summary"] or "") if dist else ""
        except KeyError:
            summary = ""
        summary = summary.removeprefix("avflow plugin: ")
        found.setdefault(ep.name, f"[{dist.name if dist else '?'}] {summary}".strip())
    return found


class LazyGroup(click.Group):
    """A click group whose commands are imported when used, listed without importing them."""

    plugin_manager: PluginManager | Callable[[], PluginManager] | None = None

    def manager(self) -> PluginManager:
        """The process's one plugin manager, built on first use (commands reach it through
        `avflow.cli.Obj.pm`, which calls this)."""
        from avflow.plugins import PluginManager

        pm = self.plugin_manager
        if not isinstance(pm, PluginManager):
            pm = pm() if pm is not None else PluginManager()
            self.plugin_manager = pm
        return pm

    def _plugins_loaded(self) -> bool:
        from sys import modules

        plugins = modules.get("avflow.plugins")
        return plugins is not None and isinstance(self.plugin_manager, plugins.PluginManager)

    def _plugin_commands(self) -> dict[str, click.Command]:
        """What the plugins' ``register_commands`` hook adds (loads the plugins)."""
        pm = self.manager()
        collected = click.Group("plugins")
        pm.hook.register_commands(cli=collected, hook=pm.hook)
        return dict(collected.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands) | set(CORE_COMMANDS)
        if self._plugins_loaded():
            names |= set(self._plugin_commands())
        else:
            names |= set(declared_plugin_commands())
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        quiet_structlog()
        quiet_croniter()
        if cmd_name in CORE_COMMANDS:
            return self._load_core(cmd_name)
        found = self._plugin_commands().get(cmd_name)
        if found is not None:
            self.commands[cmd_name] = found
        return found

    def _load_core(self, cmd_name: str) -> click.Command:
        module = importlib.import_module(CORE_COMMANDS[cmd_name][0])
        collected = click.Group("core")
        module.register(collected)
        for name, command in collected.commands.items():
            self.commands.setdefault(name, command)
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, from the help texts above for commands not loaded yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        plugin_help = {} if self._plugins_loaded() else declared_plugin_commands()
        rows = []
        for name in names:
            row = self._short_help(ctx, name, limit, plugin_help)
            if row is not None:
                rows.append((name, row))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _short_help(
        self, ctx: click.Context, name: str, limit: int, plugin_help: dict[str, str]
    ) -> str | None:
        if name in self.commands:
            command = self.commands[name]
            return None if command.hidden else command.get_short_help_str(limit)
        if name in CORE_COMMANDS:
            return _shorten(CORE_COMMANDS[name][1], limit)
        if name in plugin_help:
            return _shorten(plugin_help[name], limit)
        found = self.get_command(ctx, name)
        return None if found is None or found.hidden else found.get_short_help_str(limit)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut as click cuts a command's help for a listing."""
    return click.Command(None, help=text).get_short_help_str(limit)
