"""Jinja2 templates in ``if:`` and ``with:``, in a sandbox that sees only what a run offers.

A string that is exactly one expression (``"{{ steps.triage.outputs.files }}"``) evaluates to the
expression's own value (a list stays a list); any other string containing ``{{`` or ``{%``
renders to a string. Templates see ``client``, ``workflow``, ``run`` and ``steps``, plus any
variables an action supplies itself (its ``template_vars``); a template that names one of those
is left for the action to render.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import TemplateSyntaxError

    from avflow.template_limits import LimitedSandbox, TemplateLimitError

ENGINE_VARS = frozenset({"client", "workflow", "run", "steps"})
GLOBALS = frozenset({"range", "dict"})  # the sandbox's globals (`env`), all it has
_WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)


@functools.cache
def env() -> LimitedSandbox:
    """The sandbox, made on first use: the service imports Jinja2 only when it needs it."""
    from jinja2 import StrictUndefined

    from avflow import template_limits as tl

    sandbox = tl.LimitedSandbox(undefined=StrictUndefined, autoescape=False)
    sandbox.globals.clear()
    sandbox.globals.update(range=tl.safe_range, dict=dict)
    sandbox.filters = {k: tl.checked_filter(k, f) for k, f in sandbox.filters.items()}
    return sandbox


def parse(template: str) -> Any:
    """Parse ``template`` within the limits (raises `TemplateSyntaxError`, one line)."""
    from avflow import template_limits as tl

    tl.check_source(template, env())
    try:
        tree = env().parse(template)
    except (RecursionError, MemoryError):
        raise tl.TemplateRefused("template too deeply nested", 1) from None
    if "{%" in template:  # only statements can hold what check_tree looks for
        tl.check_tree(tree)
    return tree


def __getattr__(name: str) -> Any:
    if name == "TemplateSyntaxError":
        from jinja2 import TemplateSyntaxError

        return TemplateSyntaxError
    if name == "TemplateLimitError":
        from avflow.template_limits import TemplateLimitError

        return TemplateLimitError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@dataclass(frozen=True)
class Refs:
    """The names a template uses: top-level variables and ``steps.<id>`` references."""

    variables: frozenset[str]
    steps: frozenset[str]
    # (variable or dotted path, attribute): ``file.month``, and ``file.date.year`` as both
    # ("file", "date") and ("file.date", "year")
    attrs: frozenset[tuple[str, str]] = frozenset()


def references(template: str) -> Refs:
    """Parse ``template`` (raises `TemplateSyntaxError`) and list what it refers to."""
    from jinja2 import meta, nodes

    ast = parse(template)
    names: set[str] = set()
    steps: set[str] = set()
    attrs: set[tuple[str, str]] = set()
    for node in ast.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):  # one walk for all
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                names.add(node.name)
            continue
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        if isinstance(node, nodes.Getattr) and (path := _dotted(target)):
            attrs.add((path, node.attr))
        if isinstance(target, nodes.Name) and target.name == "steps":
            if isinstance(node, nodes.Getattr):
                steps.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                steps.add(node.arg.value)
    if "{%" in template or "{#" in template:
        variables = frozenset(meta.find_undeclared_variables(ast))
    else:  # expressions assign nothing: every name read, but the sandbox's globals (10x quicker)
        variables = frozenset(names - env().globals.keys())
    return Refs(variables, frozenset(steps), frozenset(attrs))


def _dotted(node: Any) -> str:
    """``file.date`` for the nodes of ``file.date``; "" if they are not a name and attributes."""
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        head = _dotted(node.node)
        return f"{head}.{node.attr}" if head else ""
    return node.name if isinstance(node, nodes.Name) else ""


class Compiled:
    """A template compiled once, rendered within the limits (`avflow.template_limits`)."""

    def __init__(self, template: str) -> None:
        from jinja2 import TemplateSyntaxError

        from avflow.template_limits import TemplateRefused, limited

        try:
            with limited():  # the parser and code generator recurse: compile under the guard too
                self._compile(template)
        except TemplateRefused:
            raise
        except TemplateSyntaxError as exc:  # one line, as every error avflow prints
            raise TemplateRefused(exc.message or "syntax error", exc.lineno) from None

    def _compile(self, template: str) -> None:
        m = _WHOLE.match(template)
        tree = parse(template)
        self._expr: Any = None
        self._template: Any = None
        self._slow: str | None = None
        self._plain: tuple[str | tuple[str, tuple[str, ...]], ...] | None = None
        if m and "{{" not in m.group("expr") and "}}" not in m.group("expr"):
            self._expr = env().compile_expression(m.group("expr"), undefined_to_none=False)
        else:
            self._template = env().from_string(tree)
            self._plain = _plain_parts(tree)

    def value(self, **context: Any) -> Any:
        """The template's value: an expression's own value, or the rendered text."""
        if self._expr is None:
            return self.render(**context)
        from avflow.template_limits import count

        return self._limited(lambda: count(self._expr(**context)))

    def render(self, **context: Any) -> str:
        """The rendered text, counted chunk by chunk against the output limit."""
        if self._expr is not None:
            return str(self.value(**context))
        if self._plain is not None:
            return self._substitute(context)
        return str(self._limited(lambda: self._chunks(context)))

    def _substitute(self, context: dict[str, Any]) -> str:
        """A template of text and ``{{ name.attr... }}`` only, rendered as Jinja2 would (each
        name looked up in the context, then the sandbox's globals; each attribute through the
        sandbox's ``getattr``; ``str`` of each value; the output limit), without running Jinja2's
        machinery: the same text, or the same error, at a tenth of the cost. No template code
        runs, so there is nothing for the time budget to interrupt."""
        from avflow.template_limits import MAX_STRING, TemplateLimitError

        sandbox = env()
        out, size = [], 0
        try:
            for part in self._plain or ():
                if isinstance(part, tuple):
                    name, attrs = part
                    value = context.get(name, _MISSING)
                    if value is _MISSING:
                        value = sandbox.globals.get(name, _MISSING)
                    if value is _MISSING:
                        value = sandbox.undefined(name=name)
                    for attr in attrs:
                        value = sandbox.getattr(value, attr)
                    part = str(value)
                size += len(part)
                if size > MAX_STRING:
                    raise TemplateLimitError(
                        f"template output longer than {MAX_STRING:,} characters"
                    )
                out.append(part)
        except RecursionError:  # str() of a value nested too deeply, as `limited` says it
            raise TemplateLimitError("template recursion too deep") from None
        except MemoryError:
            raise TemplateLimitError("template needs too much memory") from None
        return "".join(out)

    def _chunks(self, context: dict[str, Any]) -> str:
        from avflow.template_limits import MAX_STRING, TemplateLimitError

        out, size = [], 0
        for chunk in self._template.generate(**context):
            size += len(chunk)
            if size > MAX_STRING:
                raise TemplateLimitError(f"template output longer than {MAX_STRING:,} characters")
            out.append(chunk)
        return "".join(out)

    def _limited(self, work: Callable[[], Any]) -> Any:
        """``work()`` within the limits. A template that used up a whole time budget once is not
        rendered again by this process: an action rendering it per item (a thousand files) would
        otherwise spend the budget a thousand times, and keep a stopping service waiting."""
        from avflow import template_limits as tl

        if self._slow is not None:
            raise tl.TemplateLimitError(self._slow)
        try:
            with tl.limited():
                return work()
        except BaseException as exc:
            if tl.used_whole_budget(exc):
                self._slow = f"{tl.timeout_message()} (before: not rendered again)"
            raise


_MISSING = object()
_SPECIAL_NAMES = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs"})


def _plain_parts(tree: Any) -> tuple[str | tuple[str, tuple[str, ...]], ...] | None:
    """The parts of a template that is text and ``{{ name }}`` / ``{{ name.attr.attr }}``
    only (a path template, typically): strings and (name, attributes); None for any other."""
    from jinja2 import nodes

    parts: list[str | tuple[str, tuple[str, ...]]] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            attrs: list[str] = []
            while isinstance(node, nodes.Getattr):
                attrs.append(node.attr)
                node = node.node
            if not isinstance(node, nodes.Name) or node.name in _SPECIAL_NAMES:
                return None
            parts.append((node.name, tuple(reversed(attrs))))
    return tuple(parts)


@functools.lru_cache(maxsize=256)
def compiled(template: str) -> Compiled:
    """``template`` compiled once: an action renders the same template for every item it handles."""
    return Compiled(template)


def render(value: str, context: dict[str, Any]) -> Any:
    """Evaluate one template string against ``context``, within the limits."""
    return compiled(value).value(**context)


def limited(timeout: float | None = None) -> Any:
    """A block whose renderings share one time budget (at most ``timeout`` seconds): the engine
    renders a step's ``if:`` and ``with:`` inside one, and counts the time against the step."""
    from avflow.template_limits import limited as _limited

    return _limited(timeout)


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
    "Compiled",
    "Refs",
    "TemplateLimitError",
    "TemplateSyntaxError",
    "is_template",
    "limited",
    "parse",
    "references",
    "render",
    "render_tree",
    "truthy",
]
