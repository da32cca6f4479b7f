"""The one way avflow reads a YAML file a user wrote: safely, as YAML 1.2, with positions.

`read_doc` opens only a regular file (never a symbolic link, a FIFO or a device) of at most
`MAX_BYTES`, decodes it as UTF-8 and parses it with libyaml's C parser. The parser's events are
composed here, without recursion, into plain data (dicts, lists, text, numbers, booleans, None)
while the line and column of every key and value are kept, so a `Doc` can locate any error found
later. Composing here rather than with libyaml's composer bounds what a hostile file can cost:
nesting deeper than `MAX_DEPTH` and aliases that expand to more than `MAX_ALIAS_NODES` nodes stop
the read with a one-line error (the parser is stopped as soon as the limit is passed, so neither
the time nor the memory grows with the attack). Nothing of a file's content is put in an error
unless it parsed as YAML.

Values follow the YAML 1.2 core schema: ``on``, ``yes``, ``off`` and ``09:00`` are text; only
``true``/``false``, ``null``/``~``, and decimal, ``0o``, ``0x`` and floating numbers are not. A
mapping key is always the text written (``on:`` is the key "on"). Timestamps stay text (avflow
reads dates itself, with errors it can locate). Merge keys (``<<: *base``) are supported.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from avflow.errors import ConfigError, Location

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_CORE = "tag:yaml.org,2002:"
_Mark = tuple[int, int]  # 0-based line and column


@dataclass(slots=True)
class Doc:
    """One parsed file: its plain ``data`` and the position of every node in it."""

    path: Path
    data: Any
    root: _Mark = (0, 0)
    # id(container) -> {key: (key mark, value mark)} for a mapping, [item mark] for a list
    marks: dict[int, Any] = field(default_factory=dict)

    def locate(self, loc: Sequence[str | int]) -> Location:
        """The position of the deepest node of ``loc`` that exists: for a mapping key, the key
        itself when ``loc`` ends there (an unknown or missing key), its value otherwise."""
        node, (line, col) = self.data, self.root
        for i, part in enumerate(loc):
            table = self.marks.get(id(node))
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


def scalar(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema."""
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


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The text of ``path`` if it is a regular file (not a link) of at most ``max_bytes``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise ConfigError(
                "a symbolic link: workflow files must be regular files (nothing was read)",
                Location(path),
            ) from None
        raise ConfigError(f"cannot read file: {exc.strerror}", Location(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("not a regular file (nothing was read)", Location(path))
        if info.st_size > max_bytes:
            raise ConfigError(_too_big(info.st_size, max_bytes), Location(path))
        data = os.read(fd, max_bytes + 1)
        while len(data) <= max_bytes and (more := os.read(fd, max_bytes + 1 - len(data))):
            data += more
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", Location(path)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ConfigError(_too_big(len(data), max_bytes), Location(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start + 1} cannot be decoded)", Location(path)
        ) from None


def _too_big(size: int, limit: int) -> str:
    return f"file too large ({size:,} bytes; the limit is {limit:,}): nothing was read"


def read_doc(path: Path) -> Doc:
    """Read and parse ``path``; every problem is a one-line `ConfigError` at its position."""
    return parse(read_text(path), path)


def parse(text: str, path: Path) -> Doc:
    """Parse one YAML document (an empty file is None)."""
    return _Composer(text, path).run()


def load_yaml(path: Path) -> Any:
    """Compatibility: the `Doc` of ``path`` (use `read_doc`)."""
    return read_doc(path)


def locate(path: Path, doc: Any, loc: Sequence[str | int]) -> Location:
    """The position of ``loc`` in ``doc`` (a `Doc`; anything else gives just the file)."""
    if isinstance(doc, Doc):
        return doc.locate(loc)
    return Location(path)


def plain(value: Any) -> Any:
    """The plain data of a `Doc` (or a value that is already plain)."""
    return value.data if isinstance(value, Doc) else value


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


class _Composer:
    """Builds plain data from libyaml's events, with an explicit stack (no recursion)."""

    def __init__(self, text: str, path: Path) -> None:
        self.text, self.path = text, path
        self.doc = Doc(path, None)
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
        try:
            while (event := parser.get_event()) is not None:
                if isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.error(
                            "a file holds one YAML document (remove the second '---')",
                            event.start_mark,
                        )
                elif isinstance(event, yaml.NodeEvent | yaml.CollectionEndEvent):
                    self.event(event)
        except yaml.MarkedYAMLError as exc:
            raise ConfigError(_syntax_message(exc, self.text), _mark(self.path, exc)) from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"YAML syntax error: {type(exc).__name__}", Location(self.path)
            ) from None
        finally:
            parser.dispose()
        return self.doc

    def event(self, event: Any) -> None:
        if isinstance(event, yaml.ScalarEvent):
            top = self.stack[-1] if self.stack else None
            if top is not None and top.key is None and isinstance(top.container, dict):
                value: Any = event.value  # a key is the text written: `on:` is "on"
            else:
                value = self.value(event)
            self.add(value, event.start_mark, 1, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise self.error(
                    "an alias (*name) that no anchor (&name) defines", event.start_mark
                )
            value = self.anchors[event.anchor]
            size = self.sizes.get(id(value), 1)
            self.expanded += size
            if self.expanded > MAX_ALIAS_NODES:
                raise self.error(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?)",
                    event.start_mark,
                )
            self.add(value, event.start_mark, size, None)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self.start(event)
        else:  # the end of a mapping or a list
            frame = self.stack.pop()
            if isinstance(frame.container, dict) and frame.merges:
                self.merge(frame)
            self.sizes[id(frame.container)] = frame.size
            self.add(frame.container, None, frame.size, frame.anchor)

    def start(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
            raise self.error(
                "unsupported YAML tag (avflow reads plain YAML only)", event.start_mark
            )
        container: Any = {} if is_map else []
        marks: Any = {} if is_map else []
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
        if tag in ("!", _CORE + "str"):
            return event.value
        value = scalar(event.value)
        wanted = {"int": (int,), "float": (float, int), "bool": (bool,), "null": (type(None),)}
        kinds = wanted.get(tag.removeprefix(_CORE), ()) if tag.startswith(_CORE) else ()
        if type(value) in kinds:
            return float(value) if tag == _CORE + "float" else value
        raise self.error("unsupported YAML tag (avflow reads plain YAML only)", event.start_mark)

    def add(self, value: Any, mark: Any, size: int, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = value
        if not self.stack:
            self.doc.data = value
            if mark is not None:
                self.doc.root = (mark.line, mark.column)
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.container, list):
            if mark is not None:
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
        if mark is not None:
            top.marks[key] = (top.key_mark, (mark.line, mark.column))
        top.container[key] = value

    def key(self, top: _Frame, value: Any, mark: Any) -> None:
        if mark is None or isinstance(value, dict | list):
            where = self.stack[-1].key_mark if mark is None else (mark.line, mark.column)
            raise ConfigError(
                "a mapping key must be text, not a list or a mapping",
                Location(self.path, where[0] + 1, where[1] + 1),
            )
        text = _key_text(value)
        if text in top.container or (text in top.marks and text != "<<"):
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
                    if k in table:
                        frame.marks[k] = table[k]


class _Dumper(yaml.SafeDumper):
    """Quotes every string that YAML 1.1 *or* 1.2 would read as something else (``on``, ``0o7``)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        plain = kind is yaml.ScalarNode and implicit[0] and tag == _CORE + "str"
        if plain and not isinstance(scalar(value), str):
            return _CORE + "quoted"  # not the str tag: the emitter quotes it
        return tag


def dump(data: Any) -> str:
    """``data`` (plain values) as block-style YAML that `parse` reads back unchanged."""
    return str(
        yaml.dump(
            data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True
        )
    )


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


__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "Doc",
    "dump",
    "locate",
    "parse",
    "read_doc",
]
