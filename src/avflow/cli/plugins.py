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


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path("."), show_default=True
)
def new(name: str, directory: Path) -> None:
    """Create a plugin distribution ``avflow-NAME``: an action that writes a file into a folder
    of the client's, once (with a reconcile), and tests that pass after ``pip install -e``."""
    from avflow.cli import plugin_kit as kit

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise UsageError(
            f"plugin name {name!r}: use lower-case letters, digits and _, starting with a letter"
        )
    root = directory / f"avflow-{name}"
    if root.exists() or root.is_symlink():
        raise UsageError(f"{root} already exists")
    pkg = root / "src" / f"avflow_{name}"
    pkg.mkdir(parents=True)
    (root / "tests").mkdir()
    files = {
        root / "pyproject.toml": kit.PYPROJECT,
        root / "README.md": kit.README,
        pkg / "__init__.py": '"""avflow-{name}: an avflow plugin."""\n',
        pkg / "plugin.py": kit.PLUGIN,
        root / "tests" / f"test_{name}.py": kit.TESTS,
    }
    for path, template in files.items():
        path.write_text(template.format(name=name), encoding="utf-8")
    click.echo(f"created {root}")
    click.echo(f'next: pip install -e "{root}[test]" && pytest {root}')
