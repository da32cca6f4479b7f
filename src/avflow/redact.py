"""Keeping secret values out of everything avflow writes.

Every secret value avflow resolves is registered here; `redact` replaces each occurrence in
strings, recursively in containers, mapping keys included. Not only the value itself is found but
the forms it takes when a plugin writes it escaped: inside ``repr()`` (backslashes doubled,
quotes escaped), inside JSON (``\\"``, ``\\\\``, ``\\uXXXX``), URL-encoded (``%2F`` or ``+`` for
a space), and base64 (standard and URL-safe alphabets, at each of the three alignments a value
can take inside a longer encoded text, such as ``user:password`` in an HTTP Basic header).

Logs, audit records, step outputs, error messages and every value written to ``state.db`` pass
through it (`RedactingConnection`). The set is process-wide on purpose: a value that was a secret
anywhere in the process must not be written anywhere.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_LENGTH = 4  # shorter values are too likely to occur by chance; never logged as fields anyway
MIN_ENCODED = 8  # shorter base64 fragments would match ordinary text
_lock = threading.Lock()
_values: set[str] = set()
_ordered: tuple[str, ...] = ()
_pattern: re.Pattern[str] | None = None


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 text that encodes ``raw`` wherever it sits in a longer byte string: for each
    alignment, the characters that depend on ``raw``'s bytes alone."""
    forms = set()
    for pad in range(3):
        whole = pad + len(raw)
        first = 1 if pad else 0  # a group mixing neighbour bytes and ours is left out
        last = whole // 3  # so is a group cut short by the end of ours
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw + b"\0" * 2).decode()
            forms.add(text[first * 4 : last * 4])
    return {f for f in forms if len(f) >= MIN_ENCODED}


def forms_of(value: str) -> set[str]:
    """Every written form of ``value`` that `redact` looks for."""
    forms = {value, repr(value)[1:-1]}
    forms.add(value.replace("\\", "\\\\").replace("'", "\\'"))  # repr() with either quote
    forms.add(value.replace("\\", "\\\\").replace('"', '\\"'))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(quote(value, safe=""))
    forms.add(quote_plus(value, safe=""))
    forms.add(quote(value))  # "/" kept, as in a URL path
    raw = value.encode()
    forms |= _base64_forms(raw)
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register(value: str) -> None:
    """Never write ``value`` (nor its escaped and encoded forms) anywhere."""
    global _ordered, _pattern
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    forms = forms_of(value)
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        _ordered = tuple(sorted(_values, key=len, reverse=True))  # longest first
        _pattern = re.compile("|".join(re.escape(v) for v in _ordered))


def forget_all() -> None:
    """Forget every registered value: for a test harness that stands for a fresh process, so one
    test's secrets (say, the word "secret") do not mask another test's text."""
    global _ordered, _pattern
    with _lock:
        _values.clear()
        _ordered = ()
        _pattern = None


def registered() -> Iterable[str]:
    """The registered forms, longest first (for tests and checks)."""
    return _ordered


def redact(obj: Any) -> Any:
    """Return ``obj`` with every registered secret value masked (mapping keys too)."""
    pattern = _pattern
    if pattern is None:
        return obj
    return _redact(obj, pattern)


def _redact(obj: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(obj, str):
        return pattern.sub(MASK, obj) if pattern.search(obj) else obj
    if obj is None or isinstance(obj, int | float):  # bool is an int
        return obj
    if isinstance(obj, dict):
        return {_redact(k, pattern): _redact(v, pattern) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_redact(v, pattern) for v in obj)
    if isinstance(obj, bytes):
        text = obj.decode("utf-8", "surrogateescape")
        return _redact(text, pattern).encode("utf-8", "surrogateescape")
    return obj


def structlog_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact every key and value of the event."""
    redacted = redact(event_dict)
    return redacted if isinstance(redacted, dict) else event_dict


def rendered(_logger: Any, _name: str, line: Any) -> Any:
    """structlog's last processor: redact the rendered line (reprs, tracebacks) once more."""
    return redact(line)


class RedactingConnection(sqlite3.Connection):
    """A SQLite connection that redacts every text parameter before it is written or compared:
    nothing a plugin puts in an effect key, a cursor, an output or an error reaches the file
    unredacted, and a lookup by the same value finds the redacted row."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if _pattern is not None and parameters:
            parameters = redact(
                dict(parameters) if isinstance(parameters, dict) else tuple(parameters)
            )
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq: Iterable[Any], /) -> sqlite3.Cursor:
        if _pattern is not None:
            seq = [redact(tuple(p)) if not isinstance(p, dict) else redact(dict(p)) for p in seq]
        return super().executemany(sql, seq)
