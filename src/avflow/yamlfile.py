"""Reading YAML with line numbers, and mapping a data path back to a position in the file.

YAML 1.2 (ruamel.yaml) is used, so a bare ``on:`` key is the string "on", not a boolean.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avflow.errors import ConfigError, Location

if TYPE_CHECKING:  # ruamel is imported on the first parse: a warm service start parses nothing
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import RoundTripConstructor


@functools.cache
def _constructor() -> type[RoundTripConstructor]:
    from ruamel.yaml.constructor import RoundTripConstructor

    class Constructor(RoundTripConstructor):
        """Dates and times stay strings: avflow parses them itself, with errors it can locate."""

    Constructor.add_constructor("tag:yaml.org,2002:timestamp", Constructor.construct_yaml_str)
    return Constructor


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.Constructor = _constructor()
    y.allow_duplicate_keys = False
    return y


def load_yaml(path: Path) -> Any:
    """Parse ``path``; a syntax error becomes a `ConfigError` at the offending line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", Location(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", Location(path)) from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(problem):
            problem = str(problem).split("\n")[0]
        loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise ConfigError(f"YAML syntax error: {problem}", loc) from None
    except YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", Location(path)) from None


def locate(path: Path, root: Any, loc: Sequence[str | int]) -> Location:
    """Return the position of the deepest node of ``loc`` that exists under ``root``.

    For a mapping key the position of the key itself is given when the path ends there (an
    unknown or missing key), and the position of its value otherwise.
    """
    node = root
    line: int | None = None
    col: int | None = None
    if (lc := getattr(node, "lc", None)) is not None:  # ruamel's CommentedMap and CommentedSeq
        line, col = lc.line, lc.col
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        lc = getattr(node, "lc", None)
        if lc is not None and isinstance(node, dict) and part in node:
            key_line, key_col = lc.key(part)
            val_line, val_col = lc.value(part)
            line, col = (key_line, key_col) if last else (val_line, val_col)
            node = node[part]
        elif (
            lc is not None
            and isinstance(node, list)
            and isinstance(part, int)
            and 0 <= part < len(node)
        ):
            line, col = lc.item(part)
            node = node[part]
        else:
            break
    if line is None:
        return Location(path)
    return Location(path, line + 1, (col or 0) + 1)


def plain(node: Any) -> Any:
    """Convert ruamel's round-trip containers into plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if type(node).__module__.startswith("ruamel"):
        # ScalarFloat, ScalarInt, ScalarBoolean, TaggedScalar, ...: fall back to the base type
        for base in (bool, int, float, str):
            if isinstance(node, base):
                return base(node)
    return node
