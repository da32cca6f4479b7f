"""Rendered pages kept by everything that goes into them.

A page polled every few seconds (htmx's live updates) is mostly the same page again: its queries
are made every time, and when what they return -- with everything else the template is given:
the CSRF token, the page's path, the clock's figures -- is what the last rendering was given,
that rendering's HTML is the page. Anything that differs is a new key, so a changed value is
rendered at once (its lines mostly come from `fragments`, which keeps them one by one).

The key is the template's name and its whole context, frozen: lists and tuples as tuples, dicts
as tuples of their items, hashable values as themselves (view objects are named tuples or
frozen dataclasses).
A value that can be neither (a loaded `Client`) is keyed by its identity, and kept with the
page, so that another object never takes its place: a reloaded project's clients are new
objects, hence new pages. Templates read only their context (never the request), so the key is
all they see. The HTML is kept before masking; `masking.mask_html` masks it with the secrets
known when it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SIZE = 256  # pages kept (a few tens of KB each); all are dropped when it is full


def _quick(value: Any, refs: list[Any]) -> Any:
    """``value`` as a key, assuming what is usual in a page's context: plain values, lists of
    dicts or frozen objects of plain values (a TypeError when hashed says otherwise), and
    unhashable objects (a loaded client)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return (kind, tuple([(dict, tuple(v.items())) if type(v) is dict else v for v in value]))
    if kind is dict:
        return (dict, tuple(value.items()))
    if kind.__hash__ is None:
        refs.append(value)  # kept with the page: its id is not reused while the page is kept
        return (kind, id(value))
    return (kind, value)  # the kind too: 1, 1.0 and True are one key, not one text


def _freeze(value: Any, refs: list[Any]) -> Any:
    """``value`` as a key, whatever it holds (``refs``: the objects keyed by their identity)."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple([(k, _freeze(v, refs)) for k, v in value.items()]))
    if kind is list or kind is tuple:
        return (kind, tuple([_freeze(v, refs) for v in value]))
    try:
        hash(value)
    except TypeError:
        refs.append(value)  # kept with the page: its id is not reused while the page is kept
        return (kind, id(value))
    return (kind, value)


class PageCache:
    """HTML of pages by template and context (``size`` 0: none kept, every page rendered anew,
    as when its data has changed: bench/dashboard.py measures pages so too)."""

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._kept: dict[Any, tuple[str, list[Any]]] = {}

    def render(self, name: str, context: dict[str, Any], fresh: Callable[[], str]) -> str:
        """The HTML of template ``name`` with ``context``: kept, or made by ``fresh()``."""
        if self._size <= 0:
            return fresh()
        refs: list[Any] = []
        key: Any = (name, tuple([(k, _quick(v, refs)) for k, v in context.items()]))
        try:
            hit = self._kept.get(key)  # hashed once, here
        except TypeError:  # something unhashable in it: frozen all through
            refs.clear()
            key = (name, _freeze(context, refs))
            hit = self._kept.get(key)
        if hit is not None:
            return hit[0]
        html = fresh()
        if len(self._kept) >= self._size:
            self._kept.clear()
        self._kept[key] = (html, refs)
        return html
