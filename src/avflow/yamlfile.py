"""The one way avflow reads a YAML file a user wrote: safely, as YAML 1.2, with positions.

`read_doc` opens only a regular file (never a symbolic link, a FIFO or a device) of at most
`MAX_BYTES`, decodes it as UTF-8 and parses it with libyaml's C parser. `avflow.yamlcompose`
composes the parser's events, without recursion, into plain data (dicts, lists, text, numbers,
booleans, None) while the line and column of every key and value are kept, so a `Doc` can locate
any error found later. Composing there rather than with libyaml's composer bounds what a hostile
file can cost: nesting deeper than `MAX_DEPTH` and aliases that expand to more than
`MAX_ALIAS_NODES` nodes stop the read with a one-line error (the parser is stopped as soon as the
limit is passed, so neither the time nor the memory grows with the attack). Nothing of a file's
content is put in an error unless it parsed as YAML.

Values follow the YAML 1.2 core schema: ``on``, ``yes``, ``off`` and ``09:00`` are text; only
``true``/``false``, ``null``/``~``, and decimal, ``0o``, ``0x`` and floating numbers are not. A
mapping key is always the text written (``on:`` is the key "on"). Timestamps stay text (avflow
reads dates itself, with errors it can locate). Merge keys (``<<: *base``) are supported.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from avflow.errors import ConfigError, Location
from avflow.yamlcompose import (
    CORE_TAG,
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    Composer,
    Doc,
    scalar,
)
from avflow.yamlfast import quick

MAX_BYTES = 256 * 1024


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
    """Parse one YAML document (an empty file is None).

    Read first without positions (a third less work: most files have no error to locate), by
    `avflow.yamlfast` when it can (libyaml composes in C); a file with an error is read again
    with them, so the error says exactly where, and the `Doc` finds its positions when first
    asked to locate something.
    """
    found = quick(text)
    if found is not None:
        return Doc(path, found[0], text=text)
    try:
        return Composer(text, path, positions=False).run()
    except ConfigError:
        Composer(text, path, positions=True).run()  # raises the error, located
        raise


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
