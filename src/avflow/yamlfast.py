"""The reader's quick pass: a file without positions, composed by libyaml in C, or declined.

`avflow.yamlfile.parse` reads a file first without positions. When libyaml's C extension is
there, that pass lets libyaml compose the nodes (no Python event objects) and builds the plain
data from them with exactly the rules of `avflow.yamlcompose` (the YAML 1.2 core schema through
the same `scalar` function, a key is the text written). It **declines** (returns None, and the
event composer reads the file instead) whenever that composer could judge the file differently
or would report something: any YAML error, an explicit tag, an alias, a merge key (``<<``), a
key that is not a plain or quoted scalar, a non-specific tag (``!``) or a directive, a duplicate key, nesting deeper than `MAX_DEPTH`, more
than one document. What it returns is therefore what the event composer would return
(``tests/test_yamlfast.py`` compares the two on many documents).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
import yaml.cyaml
from yaml.nodes import MappingNode, ScalarNode

from avflow.yamlcompose import MAX_DEPTH, scalar

_PLAIN = "!avflow/plain"  # an untagged plain scalar: its value follows the core schema
_TEXT = "!avflow/text"  # an untagged quoted or block scalar, or one tagged "!": text
_MAP = "!avflow/map"
_SEQ = "!avflow/seq"
# libyaml's composer reads the non-specific tag "!" (``! 12``: text) as if there were no tag (a
# number): a file that may hold one, or a directive that could define one, is declined.
_TAG = re.compile(r"(?:^|[\s\[{,])!(?=[\s,\]}<]|$)", re.M)
_DIRECTIVE = re.compile(r"^%", re.M)
_CParser: Any = getattr(yaml.cyaml, "CParser", None) if yaml.__with_libyaml__ else None


class Declined(Exception):
    """The quick pass leaves this file to the event composer."""


if _CParser is not None:

    class _Loader(_CParser):
        """libyaml's parser and composer; every untagged node gets one of our own tags (a node
        whose tag is anything else was tagged explicitly in the file)."""

        def descend_resolver(self, parent: Any, index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is ScalarNode:
                return _PLAIN if implicit[0] else _TEXT
            return _MAP if kind is MappingNode else _SEQ


def quick(text: str) -> tuple[Any] | None:
    """``(data,)`` as the event composer reads ``text``, or None: declined (see above)."""
    if _CParser is None or ("!" in text and _TAG.search(text)):
        return None
    if "%" in text and _DIRECTIVE.search(text):
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError:  # a syntax error, a second document: the composer says where
        return None
    finally:
        loader.dispose()
    if node is None:
        return (None,)
    try:
        return (_build(node, set(), 0),)
    except Declined:
        return None


def _build(node: Any, seen: set[int], depth: int) -> Any:
    if id(node) in seen:  # the same node twice: an alias
        raise Declined
    seen.add(id(node))
    tag = node.tag
    if tag == _PLAIN:
        return scalar(node.value)
    if tag == _TEXT:
        return node.value
    if depth >= MAX_DEPTH:
        raise Declined
    if tag == _MAP:
        out: dict[str, Any] = {}
        for key, value in node.value:
            if key.tag not in (_PLAIN, _TEXT) or key.value in out or key.value == "<<":
                raise Declined
            if id(key) in seen:
                raise Declined
            seen.add(id(key))
            out[key.value] = _build(value, seen, depth + 1)
        return out
    if tag == _SEQ:
        return [_build(item, seen, depth + 1) for item in node.value]
    raise Declined  # an explicit tag


__all__ = ["Declined", "quick"]
