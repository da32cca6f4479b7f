"""The command line loads what a command uses, when it is used (docs/architecture.md):
``avflow --help`` imports no plugin and no pydantic, lists the plugins' commands from their
metadata, and a plugin's entry point imports its actions only when a step runs them."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import avflow
from avflow.cli import build_cli
from avflow.cli.lazy import CORE_COMMANDS, LazyGroup, _shorten, declared_plugin_commands
from avflow.errors import PluginError
from avflow.plugins import PluginManager

PLUGIN_COMMANDS = {"archive", "email", "social"}  # the built-in plugins' command groups

PROBE = """
import json, sys
from avflow.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """``avflow ARGS`` in a fresh process: its output, and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    out, _, modules = done.stdout.rstrip().rpartition("\n")
    return out, json.loads(modules)


@pytest.fixture
def autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("AVFLOW_BLOCK_PLUGINS", raising=False)


def test_help_imports_no_plugin_and_lists_every_command(autoload: None) -> None:
    out, modules = _run("--help", env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": ""})
    heavy = [
        m
        for m in modules
        if m.split(".")[0] in {"pydantic", "yaml", "jinja2", "structlog", "httpx", "pluggy"}
        or m.startswith("avflow_")
        or m in {"avflow.app", "avflow.loader", "avflow.plugins", "avflow.api"}
    ]
    assert heavy == []
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(CORE_COMMANDS) | PLUGIN_COMMANDS
    assert "[avflow-archive]" in out


def test_blocked_or_disabled_plugins_list_no_command(autoload: None) -> None:
    out, _ = _run("--help", env={"AVFLOW_BLOCK_PLUGINS": "social"})
    assert " social " not in out and " email " in out
    out, _ = _run("--help", env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert " email " not in out and " validate " in out


def test_core_command_help_texts_are_the_commands_own() -> None:
    """The help listed without importing a command is the one the command itself gives."""
    by_module: dict[str, set[str]] = {}
    for name, (module, _) in CORE_COMMANDS.items():
        by_module.setdefault(module, set()).add(name)
    for module, names in by_module.items():
        group = click.Group()
        __import__(module, fromlist=["register"]).register(group)
        assert set(group.commands) == names, f"{module} registers {sorted(group.commands)}"
        for name, command in group.commands.items():
            for limit in (20, 45, 90):
                assert _shorten(CORE_COMMANDS[name][1], limit) == command.get_short_help_str(
                    limit
                ), f"avflow {name}: change its text in avflow.cli.lazy.CORE_COMMANDS too"


def test_declared_plugin_commands_are_the_registered_ones(autoload: None) -> None:
    group = build_cli(PluginManager(block=["sample"]))
    assert isinstance(group, LazyGroup)
    registered = set(group._plugin_commands())
    assert registered == set(declared_plugin_commands()) == PLUGIN_COMMANDS


def test_plugin_command_runs_and_one_manager_serves_the_process(
    autoload: None, tmp_path: Path
) -> None:
    group = build_cli()
    assert isinstance(group, LazyGroup)
    result = CliRunner().invoke(
        group,
        ["--workflows", str(tmp_path / "wf"), "--home", str(tmp_path / "h"), "email", "--help"],
    )
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and "email" in result.output
    first = group.plugin_manager
    assert isinstance(first, PluginManager)
    result = CliRunner().invoke(group, ["--workflows", str(tmp_path), "plugins"])
    assert result.exit_code == 0, result.output
    assert group.plugin_manager is first  # not built twice


def test_a_command_added_only_by_the_hook_still_runs(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hello.py").write_text(
        "import avflow, click\n"
        "@click.command()\ndef hello():\n    '''Say hello.'''\n    click.echo('hello there')\n"
        "@avflow.hookimpl\ndef register_commands(cli):\n    cli.add_command(hello)\n"
    )
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "avflow", "--plugins-dir", str(plugins), "hello"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello there\n"
    done = subprocess.run(
        [sys.executable, "-m", "avflow", "nosuch"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "No such command 'nosuch'" in done.stderr


def test_plugin_entry_points_import_no_action(autoload: None) -> None:
    """Loading the plugins (what validate and next do) leaves the actions' libraries alone;
    every lazily registered function is there when a step calls it."""
    probe = (
        "import json, sys\nfrom avflow.plugins import PluginManager\n"
        "pm = PluginManager(block=['social'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    heavy = {"icalendar", "imapclient", "smtplib", "watchfiles", "caldav", "filelock"}
    assert modules & heavy == set()
    assert not any(m.endswith((".actions", ".triage", ".holds", ".imap")) for m in modules)
    registry = PluginManager(block=["sample"]).registry
    lazies = [
        item.run if hasattr(item, "run") else item.watch
        for item in [*registry.actions.values(), *registry.triggers.values()]
    ]
    resolved = [f.resolve() for f in lazies if isinstance(f, avflow.lazy)]
    assert len(resolved) >= 10
    assert all(inspect.isfunction(f) for f in resolved)


def test_lazy_reference() -> None:
    join = avflow.lazy("os.path:join")
    assert join("a", "b") == os.path.join("a", "b")
    assert repr(join) == "avflow.lazy('os.path:join')"
    with pytest.raises(ValueError, match=r"package\.module:function"):
        avflow.lazy("os.path.join")
    with pytest.raises(PluginError, match=r"cannot load nosuch_pkg\.mod:f"):
        avflow.lazy("nosuch_pkg.mod:f")()
    with pytest.raises(PluginError, match=r"cannot load os\.path:nope"):
        avflow.lazy("os.path:nope").resolve()
