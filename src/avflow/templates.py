"""Jinja2 templates in ``if:`` and ``with:``, in a sandbox that sees only what a run offers.

A string that is exactly one expression (``"{{ steps.triage.outputs.files }}"``) evaluates to the
expression's own value (a list stays a list); any other string containing ``{{`` or ``{%``
renders to a string. Templates see ``client``, ``workflow``, ``run`` and ``steps``, plus any
variables an action supplies itself (its ``template_vars``); a template that names one of those
is left for the action to render.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

ENGINE_VARS = frozenset({"client", "workflow", "run", "steps"})
_WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)


@functools.cache
def env() -> ImmutableSandboxedEnvironment:
    """The sandbox, made on first use: the service imports Jinja2 only when it needs it."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    sandbox.globals.clear()
    sandbox.globals.update(range=range, dict=dict)
    return sandbox


def __getattr__(name: str) -> Any:
    if name == "TemplateSyntaxError":
        from jinja2 import TemplateSyntaxError

        return TemplateSyntaxError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@dataclass(frozen=True)
class Refs:
    """The names a template uses: top-level variables and ``steps.<id>`` references."""

    variables: frozenset[str]
    steps: frozenset[str]


def references(template: str) -> Refs:
    """Parse ``template`` (raises `TemplateSyntaxError`) and list what it refers to."""
    from jinja2 import meta, nodes

    ast = env().parse(template)
    if "{%" in template or "{#" in template:
        variables = frozenset(meta.find_undeclared_variables(ast))
    else:  # expressions assign nothing: every name read, but the sandbox's globals (10x quicker)
        names = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"}
        variables = frozenset(names - env().globals.keys())
    steps: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "steps":
            if isinstance(node, nodes.Getattr):
                steps.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                steps.add(node.arg.value)
    return Refs(variables, frozenset(steps))


@functools.lru_cache(maxsize=256)
def compiled(template: str) -> Any:
    """``template`` compiled once: an action renders the same template for every item it handles."""
    return env().from_string(template)


def render(value: str, context: dict[str, Any]) -> Any:
    """Evaluate one template string against ``context``."""
    m = _WHOLE.match(value)
    if m and "{{" not in m.group("expr") and "}}" not in m.group("expr"):
        return env().compile_expression(m.group("expr"), undefined_to_none=False)(**context)
    return env().from_string(value).render(**context)


def render_tree(value: Any, context: dict[str, Any], skip: Iterable[str] = ()) -> Any:
    """Render every engine-level template inside ``value``; leave action-level ones alone."""
    skip = frozenset(skip)
    if isinstance(value, dict):
        return {k: render_tree(v, context, skip) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, context, skip) for v in value]
    if is_template(value):
        if skip and references(value).variables & skip:
            return value
        return render(value, context)
    return value


def truthy(value: Any) -> bool:
    """How an ``if:`` result is read: empty strings, "false", "0", "none" and empties are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null", "[]", "{}")
    return bool(value)


__all__ = [
    "ENGINE_VARS",
    "Refs",
    "TemplateSyntaxError",
    "is_template",
    "references",
    "render",
    "render_tree",
    "truthy",
]
