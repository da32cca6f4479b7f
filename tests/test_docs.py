"""The docs agree with the code: the generated reference matches the models, every `uses:` in
the docs names an action or trigger that exists, every hook is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from avflow import reference
from avflow.plugins import PluginManager

REPO = Path(__file__).resolve().parents[1]
DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]


def test_the_reference_is_generated_from_the_models() -> None:
    written = (REPO / "docs" / "reference.md").read_text()
    assert written == reference.render(), (
        "docs/reference.md disagrees with the models: regenerate it with "
        "`python -m avflow.reference > docs/reference.md`"
    )


def test_every_key_of_the_models_has_a_description() -> None:
    assert reference.missing_descriptions() == []


def test_the_reference_fails_when_a_model_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a key added to a model changes the rendered reference."""
    from pydantic import create_model

    from avflow import models

    before = reference.render()
    grown = create_model("Retry", __base__=models.Retry, jitter=(float, 0.0))
    monkeypatch.setattr(
        reference,
        "SECTIONS",
        tuple((h, grown if m is models.Retry else m) for h, m in reference.SECTIONS),
    )
    assert reference.render() != before and "`jitter`" in reference.render()
    assert reference.missing_descriptions() == ["Retry.jitter"]


def test_every_uses_in_the_docs_names_something_that_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    registry = PluginManager().registry
    known = set(registry.actions) | set(registry.triggers)
    wrong = [
        f"{path.relative_to(REPO)}:{n}: {name}"
        for path in DOCS
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for name in re.findall(r"\buses:\s*([a-z_]+\.[a-z_]+)", line)
        if name not in known
    ]
    assert not wrong, f"docs name actions or triggers that do not exist: {wrong}"


def test_every_hook_of_every_hookspec_module_is_documented() -> None:
    modules = {
        REPO / "src" / "avflow" / "hookspecs.py": [REPO / "docs" / "plugins.md"],
        **{
            spec: [REPO / "docs" / "plugins.md", *sorted((REPO / "docs").glob("*.md"))]
            for spec in sorted(REPO.glob("plugins/*/src/*/hookspecs.py"))
        },
    }
    assert len(modules) >= 2
    missing = []
    for module, docs in modules.items():
        tree = ast.parse(module.read_text())
        hooks = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert hooks, module
        text = "\n".join(d.read_text() for d in docs)
        missing += [f"{module.relative_to(REPO)}: {h}" for h in hooks if f"`{h}" not in text]
    assert not missing, f"hooks missing from the docs: {missing}"


def test_every_command_in_the_docs_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """`avflow X Y ...` in README.md and docs/*.md: X (and Y, for a group) are real commands."""
    import click

    from avflow.cli import build_cli

    monkeypatch.delenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    cli = build_cli(PluginManager())
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):  # the command line loads its commands when used
        cli.get_command(ctx, name)
    wrong, seen = [], 0
    for path in DOCS:
        code = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code ^= line.lstrip().startswith("```")
            start = r"(?:^\s*|\$ |`)" if code else "`"
            for found in re.findall(start + r"avflow ([a-z][a-z_-]*(?: [a-z|_-]+)?)", line):
                words = found.split()
                command: click.Command = cli
                for word in words:
                    if not isinstance(command, click.Group):
                        break
                    names = word.split("|")
                    ctx = click.Context(command)
                    found_cmds = [command.get_command(ctx, w) for w in names]
                    if any(c is None for c in found_cmds):
                        wrong.append(f"{path.relative_to(REPO)}:{n}: avflow {found}")
                        break
                    command = found_cmds[0]  # type: ignore[assignment]
                seen += 1
    assert seen > 50
    assert not wrong, f"docs name commands that do not exist: {wrong}"
