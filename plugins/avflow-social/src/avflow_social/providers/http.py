"""What the httpx-based providers share: answers mapped to the plugin's errors."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from avflow_social.provider import AuthExpired, ProviderError, RateLimited

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    import httpx


def retry_after(value: str | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def check(resp: httpx.Response, what: str, *, reconnect: str, created: bool = False) -> None:
    """Raise the plugin's error for a refusal. ``created``: the request creates the post, so a
    server error leaves its outcome unknown (it is looked up before anything is sent again)."""
    if resp.is_success:
        return
    code = resp.status_code
    detail = resp.text[:200].replace("\n", " ")
    if code == 429:
        raise RateLimited(
            f"{what}: 429 Too Many Requests", retry_after(resp.headers.get("Retry-After"))
        )
    if code in (401, 403):
        raise AuthExpired(
            f"{what}: {code}, credentials refused; reconnect the channel: {reconnect}"
        )
    if code >= 500:
        raise ProviderError(f"{what}: server error {code}", sent=None if created else False)
    raise ProviderError(f"{what}: {code} {detail}")
