"""``avflow plugins`` and ``avflow plugin new NAME``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from avflow.cli import Obj, pass_obj
from avflow.errors import UsageError

KINDS = ("actions", "account_types", "triggers", "notifiers")


def register(cli: click.Group) -> None:
    cli.add_command(plugins)
    cli.add_command(plugin)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plugins(obj: Obj, as_json: bool) -> None:
    """List loaded plugins with the actions, account types, triggers and notifiers each
    registered."""
    reg = obj.pm.registry
    table: dict[str, dict[str, list[str]]] = {
        n: {k: [] for k in KINDS} for n in obj.pm.plugin_names()
    }
    for owner_key, plugin_name in reg.owners.items():
        kind, name = owner_key.split(":", 1)
        entry = table.setdefault(plugin_name, {k: [] for k in KINDS})
        entry.setdefault(f"{kind}s", []).append(name)
    for entry in table.values():
        for names in entry.values():
            names.sort()
    if as_json:
        disabled = {n: {"disabled": why} for n, why in obj.pm.broken.items()}
        click.echo(json.dumps(table | disabled, indent=2, sort_keys=True))
        return
    for name, why in sorted(obj.pm.broken.items()):
        click.echo(f"{name} (disabled: {why})")
    for name in sorted(table):
        entry = table[name]
        click.echo(name)
        for kind in KINDS:
            if entry[kind]:
                click.echo(f"  {kind.replace('_', ' ')}: {', '.join(sorted(entry[kind]))}")


@click.group()
def plugin() -> None:
    """Plugin development helpers."""


TEMPLATE_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "avflow-{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["avflow"]

[project.entry-points.avflow]
{name} = "avflow_{module}.plugin"
"""

TEMPLATE_PLUGIN = '''"""avflow-{name}: an avflow plugin."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

import avflow


class HelloParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


def hello(ctx: avflow.StepContext, params: HelloParams) -> dict[str, Any]:
    ctx.note(f"{{params.greeting}} from {{ctx.client.name}}")
    return {{"greeting": params.greeting}}


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(avflow.Action("{module}.hello", HelloParams, hello, "Say hello in the audit trail."))
'''

TEMPLATE_TEST = """from avflow.testing import Harness


def test_plugin_is_installed(avflow_harness: Harness) -> None:
    assert "{module}.hello" in avflow_harness.pm.registry.actions


def test_hello(avflow_harness: Harness) -> None:
    avflow_harness.client("acme")
    avflow_harness.workflow("acme", "greet", {{"steps": [{{"uses": "{module}.hello"}}]}})
    result = avflow_harness.run("acme/greet")
    assert result.ok
    assert result.outputs["step1"] == {{"greeting": "hello"}}
"""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path("."), show_default=True
)
def new(name: str, directory: Path) -> None:
    """Create a plugin package ``avflow-NAME`` with an action and its first tests."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UsageError(f"plugin name {name!r} must be lower-case letters, digits and _")
    root = directory / f"avflow-{name}"
    if root.exists():
        raise UsageError(f"{root} already exists")
    pkg = root / "src" / f"avflow_{name}"
    pkg.mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(TEMPLATE_PYPROJECT.format(name=name, module=name))
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(TEMPLATE_PLUGIN.format(name=name, module=name))
    (root / "tests" / f"test_{name}.py").write_text(TEMPLATE_TEST.format(module=name))
    click.echo(f"created {root}: pip install -e {root} && pytest {root}/tests")
