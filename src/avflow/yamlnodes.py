"""From libyaml's node graph to plain data, in one pass (`avflow.yamlfile` reads files with it;
the rules are described there and in docs/workflows.md; docs/architecture.md places it).

libyaml's C parser and composer build the node graph; every node carries the line and column it
starts at, and an alias is the anchored node itself (shared, never copied). `build` walks the
graph once into plain data; the returned `Doc` keeps the graph, so any position is read from it
when an error must be located (`Doc.locate`): no second parse, no extra object per node.

A cheap scan of the text picks how scalars are tagged: most files get tags the walker reads
inline; a file that may hold an anchor (``&``) or the non-specific tag ``!`` gets "careful" tags
instead, and only then does the walker track the nodes it has met (a node met again is an
alias, whose expansion is counted) and look at how a number-like scalar was written (``! 12``
is text: libyaml reports it as an untagged plain scalar).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
import yaml.cyaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from avflow.errors import ConfigError, Location

MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000
CORE_TAG = "tag:yaml.org,2002:"

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
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


# The tags our resolver gives untagged nodes (a node with any other tag was tagged in the file).
_PLAIN, _TEXT = "!avflow/plain", "!avflow/text"  # a plain scalar; a quoted or block one
_CPLAIN, _CTEXT = "!avflow/careful-plain", "!avflow/careful-text"  # the same, careful
_MAP, _SEQ = "!avflow/map", "!avflow/seq"
# What may be an anchor, or the non-specific tag "!" (also "!<!>"): either makes a file careful.
_CAREFUL = re.compile(r"(?<![^\s\[{,:])(?:&[^\s,\[\]{}]|!(?:[\s,\]}<]|\Z))")
# Compiled when first used (by `re`'s cache): rarely needed, and compiling is not free.
# How a scalar written with the tag "!" starts (an anchor may come first):
_NON_SPECIFIC = r"(?:&[^\s,\[\]{}]+(?:\s|#[^\n]*)*)?!(?:<!>)?(?=[\s,\]}]|$)"
# What is between a node and an alias written after it; a line break, as libyaml counts them:
_ALIAS_AT = r"(?:[\s,:?\[{-]|#[^\n\r\x85\u2028\u2029]*)*(\*[^\s,\[\]{}]+)"
_BREAK = r"\r\n|[\n\r\x85\u2028\u2029]"
_TAGGED = {
    CORE_TAG + "int": (int,),
    CORE_TAG + "float": (float, int),
    CORE_TAG + "bool": (bool,),
    CORE_TAG + "null": (type(None),),
}
_UNSUPPORTED = "unsupported YAML tag (avflow reads plain YAML only)"
_NEW, _BUSY = object(), object()


class _PyParser(Reader, Scanner, Parser, Composer):
    """PyYAML's parser and composer in Python, when its C extension is missing."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


_CParser: Any = getattr(yaml.cyaml, "CParser", None) if yaml.__with_libyaml__ else None
_Base: Any = _CParser or _PyParser


class _Fast(_Base):
    """A parser and composer whose resolver gives every untagged node one of our tags."""

    def descend_resolver(self, parent: Any, index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _TEXT
        return _MAP if kind is MappingNode else _SEQ


class _Careful(_Fast):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _CPLAIN if implicit[0] else _CTEXT
        return _MAP if kind is MappingNode else _SEQ


def careful(text: str) -> bool:
    """True when ``text`` may hold an anchor or the non-specific tag (see the module's doc)."""
    return ("&" in text or "!" in text) and _CAREFUL.search(text) is not None


def compose(text: str, careful: bool) -> Any:
    """libyaml's node graph of ``text`` (None when empty); syntax errors are `yaml.YAMLError`."""
    loader = (_Careful if careful else _Fast)(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class _Alias(Exception):
    """An alias that cannot be read; the node holding it says where it is written."""


class Walker:
    """Builds plain data from a node graph (`compose`), once, checking every rule on the way."""

    __slots__ = ("built", "expanded", "path", "text")

    def __init__(self, text: str, path: Path, careful: bool) -> None:
        self.text, self.path = text, path
        self.built: dict[int, Any] | None = {} if careful else None  # id(node) -> its value
        self.expanded = 0  # nodes that aliases stand for

    def error(self, message: str, line: int, column: int) -> ConfigError:
        return ConfigError(message, Location(self.path, line + 1, column + 1))

    def build(self, node: Any, depth: int) -> Any:
        built = self.built
        if built is None:
            return self.make(node, depth)
        known = built.get(id(node), _NEW)
        if known is not _NEW:
            return self.alias(known)
        built[id(node)] = _BUSY  # an alias met while building it refers to no complete anchor
        value = built[id(node)] = self.make(node, depth)
        return value

    def alias(self, value: Any) -> Any:
        if value is _BUSY:
            raise _Alias("an alias (*name) that no anchor (&name) defines")
        self.expanded += _size(value, MAX_ALIAS_NODES - self.expanded)
        if self.expanded > MAX_ALIAS_NODES:
            raise _Alias(f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?)")
        return value

    def make(self, node: Any, depth: int) -> Any:
        tag = node.tag
        if tag is _MAP:
            return self.mapping(node, depth)
        if tag is _SEQ:
            return self.sequence(node, depth)
        if tag is _PLAIN:
            return scalar(node.value)
        if tag is _TEXT or tag is _CTEXT:
            return node.value
        if tag is _CPLAIN:
            value = scalar(node.value)
            if type(value) is str or not (node.style or self.non_specific(node)):
                return value
            return node.value  # "! 12", "! '12'": text
        return self.tagged(node, depth)

    def non_specific(self, node: Any) -> bool:
        return re.compile(_NON_SPECIFIC).match(self.text, node.start_mark.index) is not None

    def tagged(self, node: Any, depth: int) -> Any:
        """A node with an explicit tag: only the core schema's, for what the node is."""
        tag, mark = node.tag, node.start_mark
        if isinstance(node, ScalarNode):
            if tag == CORE_TAG + "str":
                return node.value
            value = scalar(node.value)
            if type(value) in _TAGGED.get(tag, ()):
                return float(value) if tag == CORE_TAG + "float" else value
        elif tag == CORE_TAG + ("map" if isinstance(node, MappingNode) else "seq"):
            return self.mapping(node, depth) if tag.endswith("map") else self.sequence(node, depth)
        raise self.error(_UNSUPPORTED, mark.line, mark.column)

    def sequence(self, node: Any, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            mark = node.start_mark
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", mark.line, mark.column)
        out: list[Any] = []
        append = out.append
        try:
            for item in node.value:
                tag = item.tag
                if tag is _PLAIN:
                    append(scalar(item.value))
                elif tag is _TEXT:
                    append(item.value)
                else:
                    append(self.build(item, depth + 1))
        except _Alias as exc:
            raise self.error(str(exc), *child_mark(self.text, node, len(out))) from None
        return out

    def mapping(self, node: Any, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            mark = node.start_mark
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", mark.line, mark.column)
        out: dict[str, Any] = {}
        merges: list[dict[str, Any]] = []
        knode = vnode = None
        try:
            for knode, vnode in node.value:
                key = knode.value  # a key is the text written: `on:` is "on"
                if type(key) is not str or key in out or key == "<<":
                    self.odd_key(node, knode, vnode, out, merges, depth)
                    continue
                tag = vnode.tag
                if tag is _PLAIN:
                    out[key] = scalar(vnode.value)
                elif tag is _TEXT:
                    out[key] = vnode.value
                else:
                    out[key] = self.build(vnode, depth + 1)
        except _Alias as exc:
            pair = next(i for i, p in enumerate(node.value) if p[0] is knode and p[1] is vnode)
            raise self.error(str(exc), *child_mark(self.text, node, 2 * pair + 1)) from None
        for source in merges:  # the keys written win; then the first source that has it
            for key, value in source.items():
                if key not in out:
                    out[key] = value
        return out

    def odd_key(
        self, node: Any, knode: Any, vnode: Any, out: dict[str, Any], merges: list[Any], depth: int
    ) -> None:
        """A key that is not text, a duplicate, or ``<<`` (its sources go into ``merges``)."""
        pairs = node.value
        pair = next(i for i, p in enumerate(pairs) if p[0] is knode and p[1] is vnode)
        where = child_mark(self.text, node, 2 * pair)
        if type(knode.value) is not str:
            raise self.error("a mapping key must be text, not a list or a mapping", *where)
        if knode.value != "<<":
            first = next(i for i, p in enumerate(pairs) if p[0].value == knode.value)
            line = child_mark(self.text, node, 2 * first)[0] + 1
            raise self.error(f"duplicate key {knode.value!r} (first on line {line})", *where)
        value = self.build(vnode, depth + 1)
        sources = value if type(value) is list else [value]
        if not all(type(s) is dict for s in sources):
            raise self.error("'<<' merges a mapping or a list of mappings", *where)
        merges += sources


def _size(value: Any, budget: int) -> int:
    """How many nodes ``value`` stands for (keys included), counted up to just past ``budget``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if type(item) is dict:
            count += len(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return count


_Point = tuple[int, int, int]  # index in the text, line, column (0-based)


def _children(node: Any) -> list[Any]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value)


def child_mark(text: str, parent: Any, index: int) -> tuple[int, int]:
    """The 0-based line and column where child ``index`` of ``parent`` is written (a mapping's
    children are key, value, key, value...). A child that starts before the end of the one
    before it is an alias (the anchored node, written earlier): its ``*name`` is found after
    that end."""
    mark = parent.start_mark
    low: _Point = (mark.index, mark.line, mark.column)
    at = low
    for child in _children(parent)[: index + 1]:
        start = child.start_mark
        if start.index >= low[0]:
            at, end = (start.index, start.line, start.column), child.end_mark
            low = (end.index, end.line, end.column)
        else:
            at, low = _alias_at(text, low, start)
    return at[1], at[2]


def _alias_at(text: str, low: _Point, fallback: Any) -> tuple[_Point, _Point]:
    """The position of the first ``*name`` after ``low``, and of its end."""
    found = re.compile(_ALIAS_AT).match(text, low[0])
    if found is None:  # not expected: the anchored node's own position then
        point = (fallback.index, fallback.line, fallback.column)
        return point, point
    index = found.start(1)
    breaks = list(re.compile(_BREAK).finditer(text, low[0], index))
    if breaks:
        line, column = low[1] + len(breaks), index - breaks[-1].end()
    else:
        line, column = low[1], low[2] + index - low[0]
    width = found.end(1) - index
    return (index, line, column), (index + width, line, column + width)


@dataclass(slots=True)
class Doc:
    """One parsed file: its plain ``data``, and libyaml's node graph to locate any node in it."""

    path: Path
    data: Any
    node: Any = None  # the root node (None for an empty file)
    text: str = ""

    def locate(self, loc: Sequence[str | int]) -> Location:
        """The position of the deepest node of ``loc`` that exists: for a mapping key, the key
        itself when ``loc`` ends there (an unknown or missing key), its value otherwise."""
        node = self.node
        if node is None:
            return Location(self.path, 1, 1)
        line, column = node.start_mark.line, node.start_mark.column
        for i, part in enumerate(loc):
            if isinstance(node, MappingNode) and isinstance(part, str):
                found = _find(node, part)
                if found is None:
                    break
                parent, pair = found
                child = 2 * pair if i == len(loc) - 1 else 2 * pair + 1
                node = parent.value[pair][1]
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                parent, child, node = node, part, node.value[part]
            else:
                break
            line, column = child_mark(self.text, parent, child)
        return Location(self.path, line + 1, column + 1)


def _find(node: Any, key: str) -> tuple[Any, int] | None:
    """The mapping node and pair index where ``key`` of ``node``'s value is written: among its
    own keys, else in what ``<<`` merges into it (in order), as `Walker.mapping` reads them."""
    sources: list[Any] = []
    for i, (knode, vnode) in enumerate(node.value):
        if knode.value == "<<":
            sources += vnode.value if isinstance(vnode, SequenceNode) else [vnode]
        elif knode.value == key:
            return node, i
    for source in sources:
        found = _find(source, key) if isinstance(source, MappingNode) else None
        if found is not None:
            return found
    return None


__all__ = ["CORE_TAG", "MAX_ALIAS_NODES", "MAX_DEPTH", "Doc", "Walker", "compose", "scalar"]
