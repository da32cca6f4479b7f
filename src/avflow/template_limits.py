"""Limits on what one template may cost: size, work, nesting and time.

The sandbox alone stops a template from reaching what it must not; it does not stop it from
asking for ``10**(10**9)`` or ``'a'*10**9``, which CPython computes in one C call holding the
GIL (no thread, signal or timeout could interrupt it). So every operator and call that can make
a value much larger than its inputs is checked *before* it runs (the sandbox's intercepted
operators, a checked ``~``, checked filters and string methods), every value a template makes
is counted, nesting is bounded before parsing, and a time budget is enforced cooperatively by
a trace function that raises inside the template's own frames. A template that breaks a limit
raises `TemplateLimitError` with one line saying which.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STRING = 1_000_000  # characters in any string a template makes, and in its whole output
MAX_ITEMS = 100_000  # items in a range, list or other collection a template makes
MAX_INT_BITS = 65_536  # bits of any integer a template computes (about 19,700 digits)
MAX_WORK = 50 * MAX_STRING  # characters and items made in all, over one rendering
MAX_DEPTH = 30  # nesting of brackets and blocks
MAX_OPERATORS = 200  # operators, filters and attribute lookups in one {{ }} or {% %}
TIME_BUDGET = 3.0  # seconds one rendering (a step's `if:` and `with:` together) may take

_OPEN = {"(": ")", "[": "]", "{": "}"}
_BLOCKS = {"for", "if", "with", "autoescape"}
_FORBIDDEN = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.AssignBlock: "a {% set %} block",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
}
_STR_METHODS = frozenset(
    {
        *("capitalize", "casefold", "center", "count", "endswith", "find", "format"),
        *("format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit"),
        *("islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower"),
        *("lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex"),
        *("rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith"),
        *("strip", "swapcase", "title", "upper", "zfill"),
    }
)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*\}")
_NESTED = re.compile(r"\{[^{}]*\{")
_DIGITS = re.compile(r"\d+")


class TemplateLimitError(Exception):
    """A template asked for more than the limits allow (size, work, nesting or time)."""


class TemplateRefused(TemplateSyntaxError):
    """A template the limits refuse before it runs (too deep, too long, a forbidden tag):
    reported like a syntax error, by `validate` too, on one line."""

    def __str__(self) -> str:
        return f"{self.message} (line {self.lineno})"


TemplateTooDeep = TemplateRefused


class _OutOfTime(BaseException):
    """Raised by the trace function inside a template frame; a BaseException so that no
    ``except Exception`` on the way (Jinja's, a filter's) can swallow it."""


class _Guard(threading.local):
    deadline: float | None = None
    budget: float = TIME_BUDGET
    work: int = 0


_guard = _Guard()


# -- time -------------------------------------------------------------------------------------
def _trace(frame: Any, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename != "<template>":
        return None
    _check_time()
    return _trace_line


def _trace_line(frame: Any, event: str, arg: Any) -> Any:
    _check_time()
    return _trace_line


def _check_time() -> None:
    deadline = _guard.deadline
    if deadline is not None and time.monotonic() > deadline:
        _guard.deadline = None  # raise once; the frames unwinding must not raise again
        raise _OutOfTime


@contextmanager
def limited(timeout: float | None = None) -> Iterator[None]:
    """Apply the limits to every rendering inside the block, sharing one time budget:
    `TIME_BUDGET`, or ``timeout`` if smaller. Nested blocks share the outer one's budget."""
    if _guard.deadline is not None:
        yield
        return
    budget = TIME_BUDGET if timeout is None else max(min(timeout, TIME_BUDGET), 0.0)
    _guard.deadline, _guard.budget, _guard.work = time.monotonic() + budget, budget, 0
    previous = sys.gettrace()
    sys.settrace(_trace)
    try:
        yield
    except _OutOfTime:
        raise TemplateLimitError(timeout_message()) from None
    except RecursionError:
        raise TemplateLimitError("template recursion too deep") from None
    except MemoryError:
        raise TemplateLimitError("template needs too much memory") from None
    finally:
        sys.settrace(previous)
        _guard.deadline = None


def timeout_message() -> str:
    return f"template took longer than {_guard.budget:g}s to render"


def used_whole_budget(exc: BaseException) -> bool:
    """Whether ``exc`` ended a rendering that had the whole `TIME_BUDGET` (not a step's rest)."""
    timed_out = isinstance(exc, _OutOfTime) or (
        isinstance(exc, TemplateLimitError) and str(exc) == timeout_message()
    )
    return timed_out and _guard.budget >= TIME_BUDGET


# -- size -------------------------------------------------------------------------------------
def count(value: Any) -> Any:
    """Check the size of a value a template made and add it to the rendering's work."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_STRING:
            raise TemplateLimitError(
                f"template makes a string longer than {MAX_STRING:,} characters"
            )
        _add_work(len(value))
    elif isinstance(value, list | tuple | dict | set | frozenset | range):
        if len(value) > MAX_ITEMS:
            raise TemplateLimitError(
                f"template makes a collection of more than {MAX_ITEMS:,} items"
            )
        _add_work(len(value))
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"template makes a number larger than {MAX_INT_BITS:,} bits")
    return value


def _add_work(n: int) -> None:
    if _guard.deadline is None:  # outside `limited` (constant folding while compiling)
        return
    _guard.work += n
    if _guard.work > MAX_WORK:
        raise TemplateLimitError(f"template makes more than {MAX_WORK:,} characters in all")


def _expect(size: float, what: str, of: Any = "") -> None:
    """Refuse an operation before it runs if its result would be larger than the limits."""
    if isinstance(of, str | bytes) and size > MAX_STRING:
        raise TemplateLimitError(f"{what} would make more than {MAX_STRING:,} characters")
    if not isinstance(of, str | bytes) and size > MAX_ITEMS:
        raise TemplateLimitError(f"{what} would make more than {MAX_ITEMS:,} items")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else len(str(value))


def _check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any], percent: bool) -> None:
    if percent:
        widths = [w for spec in _PERCENT_SPEC.findall(fmt) for w in spec if w]
        nested = "*" in widths
    else:
        plain = fmt.replace("{{", "").replace("}}", "")
        widths = [
            w
            for spec in _BRACE_SPEC.findall(plain)
            for w in _DIGITS.findall(spec.partition(":")[2])
        ]
        nested = _NESTED.search(plain) is not None
    if nested:
        raise TemplateLimitError("template formats with a width taken from an argument")
    if any(w != "*" and int(w) > MAX_STRING for w in widths):
        raise TemplateLimitError(f"template formats wider than {MAX_STRING:,} characters")
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], dict | tuple):
        values = list(values[0].values() if isinstance(values[0], dict) else values[0])
    widest = max((_length(v) for v in values), default=0)
    _expect(len(fmt) + (fmt.count("%" if percent else "{") + 1) * widest, "template formatting")


# -- operators, calls, filters ------------------------------------------------------------------
def binop(operator: str, left: Any, right: Any) -> None:
    """Check ``left <operator> right`` before it runs."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise TemplateLimitError(f"template power larger than {MAX_INT_BITS:,} bits")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimitError(f"template product larger than {MAX_INT_BITS:,} bits")
        elif isinstance(right, int) and hasattr(left, "__len__"):
            _expect(len(left) * right, "template repetition", left)
        elif isinstance(left, int) and hasattr(right, "__len__"):
            _expect(len(right) * left, "template repetition", right)
    elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
        _expect(len(left) + len(right), "template concatenation", left)
    elif operator == "%" and isinstance(left, str):
        args = right if isinstance(right, tuple) else (right,)
        _check_format(left, args, {}, percent=True)


def before_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check a call of a string method that can make a long string, before it runs."""
    wrapped = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    target = getattr(wrapped, "__self__", None)
    if not isinstance(target, str):
        return
    name = getattr(wrapped, "__name__", "")
    if name in ("format", "format_map"):
        _check_format(target, args, kwargs, percent=False)
    elif name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        _expect(args[0], f"str.{name}")
    elif name == "replace" and len(args) >= 2:
        _expect(len(target) + (target.count(str(args[0])) + 1) * _length(args[1]), "str.replace")
    elif name == "join" and args:
        _check_join(args[0], target)


def _check_join(items: Any, separator: str) -> list[Any]:
    items = list(items) if not isinstance(items, list | tuple) else items
    if len(items) > MAX_ITEMS:
        raise TemplateLimitError(f"template joins more than {MAX_ITEMS:,} items")
    _expect(len(separator) * len(items) + sum(_length(i) for i in items), "template join")
    return list(items)


def _filter_check(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    value, rest = (args[0], args[1:]) if args else (None, ())
    if name == "join":
        sep = rest[0] if rest else kwargs.get("d", "")
        if not hasattr(value, "__len__"):
            value = _check_join(value, str(sep))
        else:
            _check_join(value, str(sep))
        return (value, *rest)
    if name in ("center", "indent", "batch", "truncate", "wordwrap"):
        for n in [*rest, *kwargs.values()]:
            if isinstance(n, int) and not isinstance(n, bool):
                lines = str(value).count("\n") + 1 if name == "indent" else 1
                _expect(n * lines, f"the {name} filter")
    elif name == "replace" and len(rest) >= 2:
        text = str(value)
        _expect(len(text) + (text.count(str(rest[0])) + 1) * _length(rest[1]), "the replace filter")
    elif name == "format":
        _check_format(str(value), rest, kwargs, percent=True)
    return args


def checked_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a Jinja2 filter) with its arguments checked first and its result counted."""
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        head, tail = (args[:1], args[1:]) if passes else ((), args)
        return count(func(*head, *_filter_check(name, tail, kwargs), **kwargs))

    return wrapper


def safe_range(*args: int) -> range:
    """`range` with at most `MAX_ITEMS` numbers."""
    rng = range(*args)
    if len(rng) > MAX_ITEMS:
        raise TemplateLimitError(f"template range of more than {MAX_ITEMS:,} numbers")
    return rng


# -- the sandbox --------------------------------------------------------------------------------
class _Generator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # ``a ~ b``, checked
        self.write("environment.concat_checked((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with every size-growing operation checked (see the module's docstring)."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        binop(operator, left, right)
        return count(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        before_call(__obj, args, kwargs)
        return count(super().call(__context, __obj, *args, **kwargs))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr not in _STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def concat_checked(self, parts: tuple[Any, ...]) -> str:
        strings = [str(p) for p in parts]
        _expect(sum(len(s) for s in strings), "template concatenation")
        return str(count("".join(strings)))


def check_source(source: str, env: LimitedSandbox) -> None:
    """Refuse a template nested deeper than `MAX_DEPTH` before the (recursive) parser sees it."""
    if len(source) < 2 * MAX_OPERATORS and sum(map(source.count, "([{")) <= MAX_DEPTH:
        return  # too short for that many operators, too few brackets and blocks: no need to look
    depth, operators, after_block_begin = 0, 0, False
    for lineno, kind, value in env.lexer.tokeniter(source, None):
        if kind in ("variable_begin", "block_begin"):
            operators = 0
        elif kind == "operator" and value in _OPEN:
            depth += 1
        elif kind == "operator" and value in _OPEN.values():
            depth -= 1
        elif (kind == "operator" and value not in ",:") or value in ("and", "or", "not", "is"):
            operators += 1
            if operators > MAX_OPERATORS:  # Jinja2 nests each one in the last: the parser recurses
                raise TemplateRefused(
                    f"template expression has more than {MAX_OPERATORS} operators", lineno
                )
        elif after_block_begin and kind == "name":
            if value in _BLOCKS:
                depth += 1
            elif value.startswith("end"):
                depth -= 1
        if kind != "whitespace":
            after_block_begin = kind == "block_begin"
        if depth > MAX_DEPTH:
            raise TemplateRefused(f"template nested more than {MAX_DEPTH} levels deep", lineno)


def check_tree(tree: nodes.Template) -> None:
    """Refuse what workflows' templates may not use: macros, blocks that buffer, recursion."""
    for node in tree.find_all((*_FORBIDDEN, nodes.For)):
        if not isinstance(node, nodes.For):
            raise TemplateRefused(f"templates may not use {_FORBIDDEN[type(node)]}", node.lineno)
        if node.recursive:
            raise TemplateRefused("templates may not use recursive loops", node.lineno)
