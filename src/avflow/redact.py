"""Keeping secret values out of everything avflow writes.

Every secret value avflow resolves is registered here; `redact` replaces each occurrence (and
its common encodings) in strings, recursively in containers. Logs, audit records, step outputs
and error messages all pass through it. The set is process-wide on purpose: a value that was a
secret anywhere in the process must not be written anywhere.
"""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import quote

MASK = "[REDACTED]"
_lock = threading.Lock()
_values: set[str] = set()
_ordered: tuple[str, ...] = ()


def register(value: str) -> None:
    """Never write ``value`` (nor its URL-quoted or base64 forms) anywhere."""
    global _ordered
    if not value or len(value) < 4:  # too short to find safely; still never logged as a field
        return
    forms = {value, quote(value, safe=""), base64.b64encode(value.encode()).decode().rstrip("=")}
    with _lock:
        _values.update(f for f in forms if len(f) >= 4)
        _ordered = tuple(sorted(_values, key=len, reverse=True))  # longest first


def redact(obj: Any) -> Any:
    """Return ``obj`` with every registered secret value masked."""
    if not _ordered:
        return obj
    return _redact(obj, _ordered)


def _redact(obj: Any, values: tuple[str, ...]) -> Any:
    if isinstance(obj, str):
        for v in values:
            if v in obj:
                obj = obj.replace(v, MASK)
        return obj
    if obj is None or isinstance(obj, int | float):  # bool is an int
        return obj
    if isinstance(obj, dict):
        return {k: _redact(v, values) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_redact(v, values) for v in obj)
    return obj


def structlog_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact every value of the event."""
    return {k: redact(v) for k, v in event_dict.items()}
