"""Rendered HTML of a list's items, kept by everything that goes into them.

A page polled every few seconds shows mostly the same items again (approval cards, runs, the
clients' lines): each is rendered by its macro once, and its HTML reused for as long as its
values, and the arguments the macro gets (the CSRF token, the page's path), are the same. The
HTML is kept before masking: a page is masked whole once rendered, with the secrets known then.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping
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


class RowLines:
    """A list's items as its query returned them (``rows``: tuples of plain values, each
    beginning with its item's id), each made into what its macro is given (`line`) only when it
    is not kept: `Fragments` keeps an item's HTML by its id and `context` (what else goes into
    its line, a time zone) with the row it was made of, and uses it only for an equal row: a
    kept line costs a hash of its id and a comparison of its row, and nothing is built for it."""

    rows: tuple[tuple[Any, ...], ...]

    def context(self) -> Hashable:
        return None

    def line(self, row: tuple[Any, ...]) -> Any:
        raise NotImplementedError


class Joined:
    """A list's HTML, joined, as a template prints it: ``__html__`` hands Jinja's escaping the
    text itself, which it makes a `Markup` of once (a `Markup` given instead was copied three
    times, tens of KB a page: made of the joined text, then made again of itself by escaping)."""

    __slots__ = ("html",)

    def __init__(self, html: str) -> None:
        self.html = html

    def __html__(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


class Fragments:
    """``macro`` of ``template``, called with each item of a list and arguments, each item's HTML
    kept (by the item's type too: two kinds of items with the same values are not one line)."""

    def __init__(self, env: jinja2.Environment, template: str, macro: str) -> None:
        self._env, self._template, self._name = env, template, macro
        self._macro: Callable[..., Markup] | None = None
        self._kept: dict[Any, Markup] = {}
        self._rows_kept: dict[Any, tuple[tuple[Any, ...], Markup]] = {}  # by id: row, HTML
        self._commons: dict[Any, int] = {}  # what a list's lines share -> its number
        self._numbers = itertools.count()

    def __call__(self, items: Iterable[Any], *args: Any) -> Joined:
        """The HTML of ``items``, one after the other."""
        if isinstance(items, RowLines):
            return Joined("\n".join(self._rows(items, args)))  # markup each
        return Joined("\n".join([self.one(item, *args) for item in items]))  # markup each

    def _rows(self, items: RowLines, args: tuple[Any, ...]) -> list[Markup]:
        """The HTML of `RowLines`' items, each kept by its id and everything else that goes
        into it (numbered: hashed once a list, not once a line), with its row: used again only
        for an equal row (values compared, not hashed: the query's strings are new objects at
        every request, and hashing them all cost more)."""
        common = (type(items), items.context(), args)
        number = self._commons.get(common)  # the page's common part, hashed once, as a number
        if number is None:
            if len(self._commons) >= SIZE:
                self._commons.clear()
            number = self._commons[common] = next(self._numbers)  # never reused
        kept, out = self._rows_kept, []
        for row in items.rows:
            key = (number, row[0])
            hit = kept.get(key)
            if hit is not None and hit[0] == row:
                html = hit[1]
            else:
                html = self._render(items.line(row), args)
                if len(kept) >= SIZE:
                    kept.clear()
                kept[key] = (row, html)
            out.append(html)
        return out

    def _render(self, item: Any, args: tuple[Any, ...]) -> Markup:
        if self._macro is None:
            self._macro = getattr(self._env.get_template(self._template).module, self._name)
        return escape(self._macro(item, *args))  # markup from a macro

    def _keep(self, key: Any, html: Markup) -> Markup:
        if len(self._kept) >= SIZE:
            self._kept.clear()
        self._kept[key] = html
        return html

    def one(self, item: Any, *args: Any) -> Markup:
        """The HTML of ``item`` (a mapping, a named tuple, or an object's attributes)."""
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
                return self._render(item, args)
        if html is None:
            html = self._keep(key, self._render(item, args))
        return html
