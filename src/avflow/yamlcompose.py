"""Composing libyaml's events into plain data, keeping the position of every node
(used by `avflow.yamlfile`, the one way avflow reads YAML; see there for the rules).

The composer works without recursion, on an explicit stack, and bounds what a hostile file can
cost: nesting deeper than `MAX_DEPTH` and aliases that expand to more than `MAX_ALIAS_NODES`
nodes stop the read with a one-line error as soon as the limit is passed. Nothing of a file's
content is put in an error unless it parsed as YAML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from avflow.errors import ConfigError, Location

MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
CORE_TAG = "tag:yaml.org,2002:"
_Mark = tuple[int, int]  # 0-based line and column


@dataclass(slots=True)
class Doc:
    """One parsed file: its plain ``data`` and the position of every node in it.

    A file is first read without positions (most files have no error to locate); ``text`` is
    then kept, and the first `locate` parses it again with them (`positioned`).
    """

    path: Path
    data: Any
    root: _Mark = (0, 0)
    # id(container) -> {key: (key mark, value mark)} for a mapping, [item mark] for a list
    marks: dict[int, Any] = field(default_factory=dict)
    text: str | None = None  # set while the positions are not read yet
    located: Doc | None = None

    def positioned(self) -> Doc:
        """This document with the position of every node."""
        if self.text is None:
            return self
        if self.located is None:
            self.located = Composer(self.text, self.path, positions=True).run()
        return self.located

    def locate(self, loc: Sequence[str | int]) -> Location:
        """The position of the deepest node of ``loc`` that exists: for a mapping key, the key
        itself when ``loc`` ends there (an unknown or missing key), its value otherwise."""
        doc = self.positioned()
        node, (line, col) = doc.data, doc.root
        for i, part in enumerate(loc):
            table = doc.marks.get(id(node))
            if isinstance(node, dict) and isinstance(table, dict) and part in table:
                key_mark, value_mark = table[part]
                line, col = key_mark if i == len(loc) - 1 else value_mark
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line, col = table[part] if isinstance(table, list) else (line, col)
                node = node[part]
            else:
                break
        return Location(self.path, line + 1, col + 1)


_NOT_TEXT_START = frozenset("~nNtTfF+-.0123456789")  # how every non-text plain scalar begins


def scalar(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema."""
    if text and text[0] not in _NOT_TEXT_START:
        return text  # most values: no pattern can match
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _FLOAT.fullmatch(text):
        special = text.lstrip("+-").lower()
        if special == ".inf":
            return float("-inf") if text.startswith("-") else float("inf")
        return float("nan") if special == ".nan" else float(text)
    return text


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_mark", "marks", "merges", "size")

    def __init__(self, container: Any, marks: Any, anchor: str | None) -> None:
        self.container = container
        self.marks = marks
        self.anchor = anchor
        self.key: str | None = None
        self.key_mark: _Mark = (0, 0)
        self.merges: list[tuple[dict[str, Any], _Mark]] = []
        self.size = 1


class Composer:
    """Builds plain data from libyaml's events, with an explicit stack (no recursion).

    ``positions``: keep the line and column of every node. Without them the same checks are
    made, and a `ConfigError` is only a signal to parse again with them (`compose`).
    """

    def __init__(self, text: str, path: Path, positions: bool = True) -> None:
        self.text, self.path, self.positions = text, path, positions
        self.doc = Doc(path, None, text=None if positions else text)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.sizes: dict[int, int] = {}  # id(container) -> nodes in it, for aliases
        self.expanded = 0

    def error(self, message: str, mark: Any) -> ConfigError:
        return ConfigError(message, Location(self.path, mark.line + 1, mark.column + 1))

    def run(self) -> Doc:
        parser = (
            yaml.CSafeLoader(self.text) if yaml.__with_libyaml__ else yaml.SafeLoader(self.text)
        )
        documents = 0
        handlers = {
            yaml.ScalarEvent: self.scalar_event,
            yaml.AliasEvent: self.alias_event,
            yaml.MappingStartEvent: self.start,
            yaml.SequenceStartEvent: self.start,
            yaml.MappingEndEvent: self.end,
            yaml.SequenceEndEvent: self.end,
        }
        get_event = parser.get_event
        try:
            while (event := get_event()) is not None:
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(event)
                elif isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.error(
                            "a file holds one YAML document (remove the second '---')",
                            event.start_mark,
                        )
        except yaml.MarkedYAMLError as exc:
            raise ConfigError(_syntax_message(exc, self.text), _mark(self.path, exc)) from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"YAML syntax error: {type(exc).__name__}", Location(self.path)
            ) from None
        finally:
            parser.dispose()
        return self.doc

    def scalar_event(self, event: Any) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.key is None and type(top.container) is dict:
            value: Any = event.value  # a key is the text written: `on:` is "on"
        elif event.tag is None and event.implicit[0]:
            value = scalar(event.value)
        else:
            value = self.value(event)
        self.add(value, event.start_mark, 1, event.anchor)

    def alias_event(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise self.error("an alias (*name) that no anchor (&name) defines", event.start_mark)
        value = self.anchors[event.anchor]
        size = self.sizes.get(id(value), 1)
        self.expanded += size
        if self.expanded > MAX_ALIAS_NODES:
            raise self.error(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?)",
                event.start_mark,
            )
        self.add(value, event.start_mark, size, None)

    def end(self, event: Any) -> None:
        """The end of a mapping or a list."""
        frame = self.stack.pop()
        if isinstance(frame.container, dict) and frame.merges:
            self.merge(frame)
        self.sizes[id(frame.container)] = frame.size
        self.add(frame.container, None, frame.size, frame.anchor)

    def start(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", CORE_TAG + ("map" if is_map else "seq")):
            raise self.error(
                "unsupported YAML tag (avflow reads plain YAML only)", event.start_mark
            )
        container: Any = {} if is_map else []
        marks: Any = None
        if self.positions:
            marks = {} if is_map else []
            self.doc.marks[id(container)] = marks
            mark = (event.start_mark.line, event.start_mark.column)
            if not self.stack:
                self.doc.root = mark
            else:
                self.place(mark)
        self.stack.append(_Frame(container, marks, event.anchor))

    def place(self, mark: _Mark) -> None:
        """Record the position of the value about to be added to the innermost container."""
        top = self.stack[-1]
        if isinstance(top.container, list):
            top.marks.append(mark)
        elif top.key is not None:
            top.marks[top.key] = (top.key_mark, mark)

    def value(self, event: Any) -> Any:
        tag = event.tag
        if tag is None:
            return scalar(event.value) if event.implicit[0] else event.value
        if tag in ("!", CORE_TAG + "str"):
            return event.value
        value = scalar(event.value)
        wanted = {"int": (int,), "float": (float, int), "bool": (bool,), "null": (type(None),)}
        kinds = wanted.get(tag.removeprefix(CORE_TAG), ()) if tag.startswith(CORE_TAG) else ()
        if type(value) in kinds:
            return float(value) if tag == CORE_TAG + "float" else value
        raise self.error("unsupported YAML tag (avflow reads plain YAML only)", event.start_mark)

    def add(self, value: Any, mark: Any, size: int, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = value
        if not self.stack:
            self.doc.data = value
            if mark is not None and self.positions:
                self.doc.root = (mark.line, mark.column)
            return
        top = self.stack[-1]
        top.size += size
        if type(top.container) is list:
            if mark is not None and top.marks is not None:
                top.marks.append((mark.line, mark.column))
            top.container.append(value)
            return
        if top.key is None:
            self.key(top, value, mark)
            return
        key, top.key = top.key, None
        if key == "<<" and key not in top.container:
            self.merge_source(top, value, top.key_mark)
            return
        if mark is not None and top.marks is not None:
            top.marks[key] = (top.key_mark, (mark.line, mark.column))
        top.container[key] = value

    def key(self, top: _Frame, value: Any, mark: Any) -> None:
        if mark is None or isinstance(value, dict | list):
            where = self.stack[-1].key_mark if mark is None else (mark.line, mark.column)
            raise ConfigError(
                "a mapping key must be text, not a list or a mapping",
                Location(self.path, where[0] + 1, where[1] + 1),
            )
        text = value if type(value) is str else _key_text(value)
        if text in top.container or (top.marks is not None and text in top.marks and text != "<<"):
            if top.marks is None:  # parsed again with positions to say where the first one is
                raise self.error(f"duplicate key {text!r}", mark)
            first = top.marks[text][0][0] + 1
            raise self.error(f"duplicate key {text!r} (first on line {first})", mark)
        top.key, top.key_mark = text, (mark.line, mark.column)

    def merge_source(self, top: _Frame, value: Any, mark: _Mark) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise ConfigError(
                "'<<' merges a mapping or a list of mappings",
                Location(self.path, mark[0] + 1, mark[1] + 1),
            )
        top.merges += [(s, mark) for s in sources]

    def merge(self, frame: _Frame) -> None:
        for source, _ in frame.merges:
            table = self.doc.marks.get(id(source), {})
            for k, v in source.items():
                if k not in frame.container:
                    frame.container[k] = v
                    if k in table and frame.marks is not None:
                        frame.marks[k] = table[k]


def _key_text(value: Any) -> str:
    """A key given by an alias: the text its anchored scalar would read as."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def _mark(path: Path, exc: yaml.MarkedYAMLError) -> Location:
    mark = exc.problem_mark or exc.context_mark
    return Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)


_HINTS = [
    ("exceeded maximum nesting depth", f"nested deeper than {MAX_DEPTH} levels"),
    (
        "tab",
        "a tab character: YAML indents with spaces only (replace the tab with spaces)",
    ),
    (
        "did not find expected '-' indicator",
        "this line is indented like the list above but does not start with '-': to add a key to "
        "the item above, indent it like that item's other keys",
    ),
    (
        "mapping values are not allowed",
        "a 'key:' cannot start here: is this line indented more than the keys above it?",
    ),
    (
        "did not find expected key",
        "is this line indented as its neighbours are? the keys of one mapping line up",
    ),
    (
        "could not find expected ':'",
        "a line with no 'key:' where a key was expected (a missing ':' or a stray line?)",
    ),
]


def _syntax_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    """libyaml's message (it quotes nothing of the file), with a hint written for a person."""
    problem = str(exc.problem or exc.context or "invalid YAML")
    mark = exc.problem_mark
    if mark is not None and "\t" in _line(text, mark.line)[: mark.column + 1]:
        problem = "tab"
    for needle, hint in _HINTS:
        if needle in problem:
            return hint if needle.startswith("exceeded") else f"YAML syntax error: {hint}"
    return f"YAML syntax error: {problem}"


def _line(text: str, index: int) -> str:
    start = 0
    for _ in range(index):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]
