"""Secrets never rendered: every page passes through avflow's redaction once it is rendered.

- `mask_html`: each registered form of a secret (`avflow.redact.registered`) is masked in the
  rendered page, as written and as HTML escaping writes it (a template escapes a value character
  by character, so a secret inside a printed value appears escaped). Masking the page whole
  masks the values, the markup around them and text that spans two values alike; masking each
  printed value (hundreds per page) cost more and saw less.
- `VaultWatch`: a client's vault values are made known to the redaction before that client's data
  is shown, even those the service has not used since it started; the vault folder is listed
  only when it changes, and a client's vault file read again only when it changes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import structlog
from markupsafe import escape

from avflow import redact
from avflow.errors import AvflowError

if TYPE_CHECKING:
    from avflow.app import App

log = structlog.get_logger("avflow.dashboard")
RECENT_NS = 2_000_000_000  # a folder changed this recently may change again within its mtime tick

_lock = threading.Lock()
_known: tuple[object, tuple[str, ...]] = ((), ())
MASKED_SIZE = 256  # pages whose masked form is kept
_masked: dict[
    str, tuple[tuple[str, ...], str]
] = {}  # page -> the forms it was masked for, it masked


def _forms() -> tuple[str, ...]:
    """The registered forms and their HTML-escaped forms, longest first (worked out again only
    when a secret has been registered since)."""
    global _known
    forms = redact.registered()
    known, every = _known
    if known is not forms:
        every = tuple(sorted(set(forms) | {str(escape(f)) for f in forms}, key=len, reverse=True))
        with _lock:
            _known = (forms, every)
    return every


@lru_cache(maxsize=64)
def _pattern(found: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(f) for f in found))


def mask_html(html: str) -> str:
    """``html`` with every secret value known to the process masked. Each form is looked for
    first (a substring search is several times quicker than one search for them all), then the
    page is masked with those found, longest first: a form found nowhere cannot match. A page
    sent again as it was (`pagecache`) is masked again only when a secret has been registered
    since (the forms are then another tuple)."""
    forms = _forms()
    if not forms:
        return html
    hit = _masked.get(html)
    if hit is not None and hit[0] is forms:
        return hit[1]
    found = tuple(f for f in forms if f in html)
    masked = _pattern(found).sub(redact.MASK, html) if found else html
    if len(_masked) >= MASKED_SIZE:
        _masked.clear()
    _masked[html] = (forms, masked)
    return masked


class VaultWatch:
    """Which clients' vault values the redaction knows, as of which state of their files."""

    def __init__(self) -> None:
        self._folder: tuple[str, int, int] | None = None  # path, inode, mtime when last listed
        self._vaults: set[str] = set()  # clients with a vault file in it then
        self._seen: dict[str, tuple[int, int, int]] = {}  # client -> its file's inode, mtime, size

    def register(self, app: App, clients: Iterable[str]) -> None:
        """Make ``clients``' vault values known to the redaction (those not known yet, or
        changed since)."""
        folder = app.vault.dir
        try:
            st = os.stat(folder)
        except OSError:
            return  # no vault folder: no secret
        stamp = (str(folder), st.st_ino, st.st_mtime_ns)
        # a file made or replaced (vaults are written by renaming) changes the folder's mtime;
        # within the mtime's tick a second change may not: list a recently changed folder again
        if stamp != self._folder or time.time_ns() - st.st_mtime_ns < RECENT_NS:
            try:
                names = os.listdir(folder)
            except OSError:
                return
            self._vaults = {n[:-5] for n in names if n.endswith(".json") and n[0] != "."}
            self._folder = stamp
        for client in clients:
            if client in self._vaults:
                self._register(app, client)

    def _register(self, app: App, client: str) -> None:
        try:
            st = (app.vault.dir / f"{client}.json").stat()
        except OSError:
            return  # removed meanwhile: no secret
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._seen.get(client) == stamp:
            return
        try:
            for name in app.vault.names(client):
                app.vault.get(client, name)  # registers the value with `avflow.redact`
        except AvflowError as exc:  # a damaged vault: its values cannot have been used either
            log.warning("dashboard: cannot read a client's vault", client=client, error=str(exc))
            return
        self._seen[client] = stamp
