"""A fast reader for the common, valid YAML file: libyaml's parser, YAML 1.2 values, no positions.

ruamel.yaml (`avflow.yamlfile`) reads YAML 1.2 with line numbers, in pure Python: about a
millisecond for a small workflow file, many seconds for thousands. When no line number is needed
yet (the service's first start, before its cache exists), `load_plain` parses with libyaml's C
parser instead and builds the same plain data `yamlfile.plain` would give, resolving each plain
scalar with ruamel's own YAML 1.2 resolver. Anything it is not sure to read exactly as ruamel
does (explicit tags, merge keys, duplicate or complex keys, several documents, unusual numbers,
a syntax error) raises `Unsupported`, and the caller reads the file with ruamel instead.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

_PLAIN, _QUOTED, _MAP, _SEQ = "?plain", "?quoted", "?map", "?seq"
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(
    r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
)
_YAML11_BREAKS = ("\x85", "\u2028", "\u2029")  # line breaks in YAML 1.1 only


class Unsupported(Exception):
    """This file needs ruamel: read it the slow way."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser and composer; tags left unresolved so explicit ones can be told apart."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _QUOTED
        return _MAP if kind is yaml.MappingNode else _SEQ


@functools.cache
def _resolve() -> Any:
    """ruamel's YAML 1.2 resolver, as a function of a plain scalar's text."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    resolver = VersionedResolver(version=(1, 2))
    return lambda value: resolver.resolve(ScalarNode, value, (True, False))


@functools.lru_cache(maxsize=4096)
def _scalar(value: str) -> Any:
    """A plain scalar's value, as ruamel's YAML 1.2 resolver and avflow's constructor read it."""
    tag = str(_resolve()(value) or "")
    kind = tag[len(_TAG) :] if tag.startswith(_TAG) else ""
    if kind in ("str", "timestamp"):  # avflow reads dates and times itself, from the text
        return value
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int" and _INT.fullmatch(value):
        return int(value)
    if kind == "float" and _FLOAT.fullmatch(value):
        return float(value)
    raise Unsupported(f"plain scalar {value!r}")


def _build(node: Any) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _QUOTED:
            return node.value
        if node.tag == _PLAIN:
            return _scalar(node.value)
        raise Unsupported(f"tag {node.tag}")
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                raise Unsupported("complex or merge key")
            key = _build(key_node)
            if not isinstance(key, str):
                raise Unsupported("a key that is not text")
            if key in out:
                raise Unsupported("duplicate key")  # ruamel reports it with its line
            out[key] = _build(value_node)
        return out
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        return [_build(item) for item in node.value]
    raise Unsupported(f"tag {node.tag}")


def load_plain(text: str) -> Any:
    """The plain data of one YAML document, or `Unsupported` when ruamel must read it."""
    if any(ch in text for ch in _YAML11_BREAKS):
        raise Unsupported("YAML 1.1 line break")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise Unsupported(str(exc)) from None
    return None if node is None else _build(node)


__all__ = ["Unsupported", "load_plain"]
