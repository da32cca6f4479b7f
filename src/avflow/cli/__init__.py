"""The ``avflow`` command line. Each command lives in its own module of this package.

This is the process's entry point, so process-wide choices are made here, not on ``import avflow``.
Commands are loaded when they are used (`avflow.cli.lazy`): ``avflow --help`` imports no plugin,
no pydantic and no object graph.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from avflow.clock import Clock
from avflow.errors import AvflowError, ConfigError, ConfigErrors, UsageError
from avflow.fsutil import private_dir
from avflow.process import configure_logging, few_collections, resolve_home

if TYPE_CHECKING:
    from avflow.api import ClientInfo
    from avflow.app import App
    from avflow.plugins import PluginManager


class Obj:
    """The click context object: options, and the `App` built from them on first use."""

    def __init__(
        self,
        workflows: Path,
        home: Path,
        pm: PluginManager | Callable[[], PluginManager],
        clock: Clock | None = None,
        home_source: str = "--home",
    ) -> None:
        self.workflows = workflows
        self.home = home
        self.home_source = home_source  # how `resolve_home` found it, for `status` and `runs`
        self.utc = False  # --utc: times in UTC rather than each client's local time
        self._pm = pm  # or what builds it: plugins are loaded by the first command that needs them
        self.clock = clock or Clock()
        self._app: App | None = None

    @property
    def pm(self) -> PluginManager:
        if callable(self._pm):
            self._pm = self._pm()
        return self._pm

    @property
    def app(self) -> App:
        if self._app is None:
            from avflow.app import App

            self._app = App(self.workflows, self.home, self.pm, self.clock)
        return self._app

    def reading(self) -> App:
        """The `App` of a command that only reads state: it creates neither the home folder nor
        its ``state.db`` (`App.state`); `say_home` then says the home has none."""
        self.app.read_only = True
        return self.app

    @property
    def project(self) -> Any:
        return self.app.project

    def data_dir(self, plugin: str) -> Path:
        return private_dir(self.home / "plugins" / plugin)

    def client(self, client_id: str) -> ClientInfo:
        from avflow.errors import UsageError
        from avflow.paths import check_client_id

        check_client_id(client_id)
        client = self.project.clients.get(client_id)
        if client is None:
            raise UsageError(
                f"unknown client {client_id!r} (clients: {', '.join(sorted(self.project.clients)) or 'none'})"
            )
        return client.info()

    def _known_client(self, client_id: str) -> None:
        """Like `avflow secrets`: the client's folder is enough (its workflows may still name
        the secret being stored, so the project is not loaded)."""
        from avflow.paths import client_folder

        client_folder(self.workflows, client_id)

    def set_secret(self, client_id: str, name: str, value: str) -> None:
        """Store a secret in the client's vault (sign-in commands that obtain tokens use it)."""
        from avflow import redact

        self._known_client(client_id)  # an unknown client is a usage error, not a new vault
        redact.register(value)
        self.app.vault.set(client_id, name, value)

    def get_secret(self, client_id: str, name: str) -> str | None:
        """A secret of the client's vault (sign-in commands read their app's secret), or None."""
        self._known_client(client_id)
        if name not in self.app.vault.names(client_id):
            return None
        return self.app.vault.get(client_id, name)  # registers the value for redaction


def utf8_arg(value: str, what: str) -> str:
    """``value``, an id or key given on the command line, or a `UsageError` (one line, exit 2)
    when it is not UTF-8 text (a byte Python keeps as a surrogate: no database, file or
    terminal could take it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} {value!r} is not UTF-8 text") from None
    return value


def say_home(obj: Obj) -> None:
    """One line on stderr naming the home folder a command reads, and how it was found; and,
    for a command that only reads (`Obj.reading`), that it has no state.db (a mistyped
    ``--home`` shows here: nothing was created)."""
    missing = obj.app.missing_state() if obj.app.read_only else None
    note = f"; {missing}" if missing else ""
    click.echo(f"home: {os.path.abspath(obj.home)} ({obj.home_source}{note})", err=True)


def command_context() -> Obj:
    """The `avflow.CommandContext` of the running command (for plugins' CLI commands)."""
    ctx = click.get_current_context()
    obj = ctx.find_object(Obj)
    if obj is None:
        raise RuntimeError("command_context() is only available inside an avflow command")
    return obj


pass_obj = click.make_pass_decorator(Obj)


def build_cli(
    pm: PluginManager | None = None,
    clock: Clock | None = None,
    plugins_dirs: Sequence[Path] = (),
) -> click.Group:
    """The ``avflow`` command group; ``clock``: the time every command sees.

    ``pm``: the process's plugin manager, or None to build it (with ``plugins_dirs``) only when a
    command needs the plugins, so ``avflow --help`` loads none.
    """
    from avflow.cli.lazy import LazyGroup

    def make_pm() -> PluginManager:
        from avflow.plugins import PluginManager

        built = PluginManager(plugins_dirs=plugins_dirs)
        for line in built.warnings():  # a plugin that does not import is disabled, not fatal
            click.echo(line, err=True)
        return built

    @click.group(
        cls=LazyGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @_global_options
    @click.pass_context
    def cli(
        ctx: click.Context,
        workflows: Path,
        home: Path | None,
        plugins_dir: tuple[Path, ...],
        log_level: str,
        log_format: str | None,
        log_json: bool | None,
        utc: bool,
    ) -> None:
        """avflow: per-client automation for virtual assistants."""
        as_json = log_json if log_format is None else log_format == "json"
        configure_logging(log_level, as_json, utc=utc)
        try:
            found, source = resolve_home(home, workflows)
        except UsageError:
            if ctx.invoked_subcommand != "init":  # init checks the folder it makes (DIR)
                raise
            found, source = home or Path(), "--home" if home is not None else "unchecked"
        assert isinstance(ctx.command, LazyGroup)
        ctx.obj = Obj(workflows, found, ctx.command.manager, clock, home_source=source)
        ctx.obj.utc = utc

    assert isinstance(cli, LazyGroup)
    cli.plugin_manager = pm if pm is not None else make_pm
    return cli


def _global_options(command: Any) -> Any:
    """The options every command takes, before its name (``avflow --home H validate``)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


_OPTIONS = [
    click.option(
        "--workflows",
        "workflows",
        type=click.Path(path_type=Path),
        envvar="AVFLOW_WORKFLOWS",
        default=Path("workflows"),
        show_default=True,
        help="Folder of client workflow folders.",
    ),
    click.option(
        "--home",
        type=click.Path(path_type=Path),
        default=None,
        help="State, audit trail, vault and keys. [default: $AVFLOW_HOME, else a .avflow-home "
        "folder next to the workflows folder, else the user data folder]",
    ),
    click.option(
        "--plugins-dir",
        type=click.Path(path_type=Path),
        multiple=True,
        help="Load every *.py in this folder as a plugin (repeatable).",
    ),
    click.option(
        "--log-level",
        default="info",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"]),
    ),
    click.option(
        "--log-format",
        type=click.Choice(["human", "json"]),
        default=None,
        help="Log lines on stderr: one line per event for people, or JSON lines. "
        "[default: $AVFLOW_LOG_FORMAT, else human]",
    ),
    click.option("--log-json/--log-text", default=None, hidden=True),  # older spelling
    click.option("--utc", is_flag=True, help="Show times in UTC, not the clients' zones."),
    click.version_option(package_name="avflow"),
]


def _plugins_dirs(argv: Sequence[str]) -> list[Path]:
    dirs = []
    for i, arg in enumerate(argv):
        if arg == "--plugins-dir" and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--plugins-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> Any:
    """Entry point: run the command, print handled errors as plain lines, exit with their code.

    ``clock``: tests and benchmarks of a real process pass a `avflow.clock.ShiftedClock`.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with few_collections():
        return _main(args, clock)


def _main(args: list[str], clock: Clock | None) -> Any:
    try:
        cli = build_cli(None, clock, _plugins_dirs(args))
        return cli.main(args, prog_name="avflow", standalone_mode=False)
    except AvflowError as exc:
        located = isinstance(exc, ConfigError) and (
            isinstance(exc, ConfigErrors) or exc.location is not None
        )
        click.echo(str(exc) if located else f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
