"""Rendered HTML of a list's items, kept by everything that goes into them.

A page polled every few seconds shows mostly the same items again (approval cards, runs, the
clients' lines): each is rendered by its macro once, and its HTML reused for as long as its
values, and the arguments the macro gets (the CSRF token, the page's path), are the same. The
HTML is kept before masking: a page is masked whole once rendered, with the secrets known then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup, escape

SIZE = 4096  # items kept per macro; all are dropped when it is full (a page needs at most 50)


PLAIN = frozenset({str, int, float, bool, type(None), datetime})


def frozen(value: Any) -> Any:
    """``value`` as a hashable key (lists and dicts as tuples; TypeError if it cannot be)."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is list or kind is tuple:
        return tuple([frozen(v) for v in value])
    if kind is dict:
        return tuple([(k, frozen(v)) for k, v in value.items()])
    hash(value)
    return value


class Fragments:
    """``macro`` of ``template``, called with each item of a list and arguments, each item's HTML
    kept (by the item's type too: two kinds of items with the same values are not one line)."""

    def __init__(self, env: jinja2.Environment, template: str, macro: str) -> None:
        self._env, self._template, self._name = env, template, macro
        self._macro: Callable[..., Markup] | None = None
        self._kept: dict[Any, Markup] = {}

    def __call__(self, items: Iterable[Any], *args: Any) -> Markup:
        """The HTML of ``items``, one after the other."""
        return Markup("\n".join([self.one(item, *args) for item in items]))  # markup each

    def one(self, item: Any, *args: Any) -> Markup:
        """The HTML of ``item`` (a mapping, a named tuple, or an object's attributes)."""
        if self._macro is None:
            self._macro = getattr(self._env.get_template(self._template).module, self._name)
        # values compare as Python does (1 == True): a kind of item gives each field one type
        key: Any
        if isinstance(item, tuple):  # a named tuple: its values, hashed in C
            key = (type(item), item, args)
        else:
            fields = item if type(item) is dict or isinstance(item, Mapping) else vars(item)
            key = (type(item), tuple(fields.items()), args)
        try:
            html = self._kept.get(key)
        except TypeError:  # a list among the values: as a tuple
            try:
                key = (type(item), frozen(key[1]), frozen(args))
                html = self._kept.get(key)
            except TypeError:  # a value that cannot be a key: rendered every time
                return self._macro(item, *args)
        if html is None:
            if len(self._kept) >= SIZE:
                self._kept.clear()
            html = self._kept[key] = escape(self._macro(item, *args))  # markup from a macro
        return html
