"""The one way avflow reads a YAML file a user wrote: safely, as YAML 1.2, with positions.

`read_doc` opens only a regular file (never a symbolic link, a FIFO or a device) of at most
`MAX_BYTES` and decodes it as UTF-8; `parse` has libyaml's C parser and composer build the node
graph (every node with its line and column) and `avflow.yamlnodes` walks it once into plain data
(dicts, lists, text, numbers, booleans, None). The resulting `Doc` keeps the graph, so any error
found later is located without reading the file again.

What a hostile file can cost is bounded: libyaml refuses nesting deeper than 1000 levels (so its
recursive composer stays within about 400 KB of C stack), the walker refuses nesting deeper than
`MAX_DEPTH`, and an alias is the anchored node itself, never a copy, whose expansion the walker
counts: more than `MAX_ALIAS_NODES` nodes stops the read with a one-line error, in time and
memory bounded by the file's size. Nothing of a file's content is put in an error unless it
parsed as YAML.

Values follow the YAML 1.2 core schema: ``on``, ``yes``, ``off`` and ``09:00`` are text; only
``true``/``false``, ``null``/``~``, and decimal, ``0o``, ``0x`` and floating numbers are not; a
scalar with the non-specific tag (``! 12``) is text. A mapping key is always the text written
(``on:`` is the key "on"). Timestamps stay text (avflow reads dates itself, with errors it can
locate). Merge keys (``<<: *base``) are supported; explicit tags only as the core schema has them
(``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``, ``!!map``, ``!!seq``); an anchor name
is defined once per file (libyaml's composer refuses a second one).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from avflow.errors import ConfigError, Location
from avflow.yamlnodes import (
    CORE_TAG,
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    Doc,
    Walker,
    careful,
    compose,
    scalar,
)

if TYPE_CHECKING:
    from avflow.readstamps import ReadStamps

MAX_BYTES = 256 * 1024
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_text(path: Path, max_bytes: int = MAX_BYTES, stamps: ReadStamps | None = None) -> str:
    """The text of ``path`` if it is a regular file (not a link) of at most ``max_bytes``;
    ``stamps`` records what was read (`avflow.readstamps`)."""
    try:
        fd = os.open(path, _READ_FLAGS)
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
        # read on until the end (or past the limit); a file that gave the size fstat says (most
        # files, in one read) is not asked again (st_size is 0 for some files that hold text)
        while (
            len(data) <= max_bytes
            and len(data) != info.st_size
            and (more := os.read(fd, max_bytes + 1 - len(data)))
        ):
            data += more
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", Location(path)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ConfigError(_too_big(len(data), max_bytes), Location(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start + 1} cannot be decoded)", Location(path)
        ) from None
    if stamps is not None:
        stamps.file(path, info, text)
    return text


def _too_big(size: int, limit: int) -> str:
    return f"file too large ({size:,} bytes; the limit is {limit:,}): nothing was read"


def read_doc(path: Path, stamps: ReadStamps | None = None) -> Doc:
    """Read and parse ``path``; every problem is a one-line `ConfigError` at its position."""
    return parse(read_text(path, MAX_BYTES, stamps), path)


def parse(text: str, path: Path) -> Doc:
    """Parse one YAML document (an empty file is None), in one pass (see the module's doc)."""
    text = text.removeprefix("\ufeff")  # libyaml skips it; positions then index the text
    slow = careful(text)
    try:
        node = compose(text, slow)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_message(exc, text), _mark(path, exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {type(exc).__name__}", Location(path)) from None
    except RecursionError:  # PyYAML's composer in Python only (libyaml stops at 1000 levels)
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", Location(path)) from None
    if node is None:
        return Doc(path, None)
    return Doc(path, Walker(text, path, slow).build(node, 1), node, text)


def locate(path: Path, doc: Any, loc: Sequence[str | int]) -> Location:
    """The position of ``loc`` in ``doc`` (a `Doc`; anything else gives just the file)."""
    if isinstance(doc, Doc):
        return doc.locate(loc)
    return Location(path)


def plain(value: Any) -> Any:
    """The plain data of a `Doc` (or a value that is already plain)."""
    return value.data if isinstance(value, Doc) else value


def _mark(path: Path, exc: yaml.MarkedYAMLError) -> Location:
    mark = exc.problem_mark or exc.context_mark
    return Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)


# libyaml's composer's own errors (the name of an anchor or alias is never quoted)
_COMPOSER = [
    ("found undefined alias", "an alias (*name) that no anchor (&name) defines"),
    ("expected a single document", "a file holds one YAML document (remove the second '---')"),
    ("found duplicate anchor", "an anchor name (&name) defined twice{first}: give each its own"),
]
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
    context = str(exc.context or "")
    for needle, message in _COMPOSER:
        if needle in context or needle in str(exc.problem or ""):
            first = exc.context_mark
            return message.format(first=f" (first on line {first.line + 1})" if first else "")
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


class _Dumper(yaml.SafeDumper):
    """Quotes every string that YAML 1.1 *or* 1.2 would read as something else (``on``, ``0o7``)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        plain = kind is yaml.ScalarNode and implicit[0] and tag == CORE_TAG + "str"
        if plain and not isinstance(scalar(value), str):
            return CORE_TAG + "quoted"  # not the str tag: the emitter quotes it
        return tag


def dump(data: Any) -> str:
    """``data`` (plain values) as block-style YAML that `parse` reads back unchanged."""
    return str(
        yaml.dump(
            data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True
        )
    )


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
