"""Redirects to another host are refused, for the client libraries that follow them (atproto's
httpx client, Mastodon.py's requests session): the other host's answer would be taken as the
network's, a post recorded as published that never was. No credentials go there either way
(both libraries drop Authorization across hosts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from avflow_social.provider import ProviderError


class RedirectRefused(ProviderError):
    """The network answered with a redirect to another host: the request was not acted on."""


def _check(url: str, location: str | None) -> None:
    if not location:
        return
    here, there = urlsplit(url), urlsplit(urljoin(url, location))
    if (here.scheme, here.netloc) != (there.scheme, there.netloc):
        raise RedirectRefused(
            f"the server redirected to another host ({there.scheme}://{there.netloc}); not "
            "followed: give that address in the channel's settings if it is right",
            sent=False,
        )


def httpx_hook(response: Any) -> None:
    """An httpx ``event_hooks["response"]`` hook."""
    if response.is_redirect:
        _check(str(response.url), response.headers.get("Location"))


def requests_hook(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A requests session ``hooks["response"]`` hook."""
    if response.is_redirect:
        _check(str(response.url), response.headers.get("Location"))
    return response
