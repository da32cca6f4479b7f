"""What a network looks like to the plugin: one small `Provider` subclass per network.

A provider turns one post for one channel into a remote post. It never decides *whether* to
publish (approval, timing, exactly-once are the plugin's job); it only talks to the network:
``publish`` (media first), and ``lookup`` so that a post whose answer was lost is found on the
channel instead of being sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import avflow
from avflow_social.channel import ChannelSettings
from avflow_social.lazyprovider import LazyProvider

__all__ = [
    "AuthExpired",
    "ChannelSettings",
    "LazyProvider",
    "MediaFile",
    "Outgoing",
    "Provider",
    "ProviderError",
    "Published",
    "RateLimited",
    "Target",
]


@dataclass(frozen=True)
class Target:
    """The channel a provider publishes to: the client's account, resolved."""

    name: str  # the account's name in client.yaml
    settings: Any  # the provider's settings model, secrets filled in
    client: avflow.ClientInfo
    state_dir: Path  # the plugin's data folder: tokens a provider refreshes live here
    log: Any = None
    # The provider's own things for one publishing pass on this channel (a checked folder, a
    # session): the same dict for every post of the pass, a new one for the next pass.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class MediaFile:
    """An image or video to upload before the post, with its alternative text."""

    path: Path
    alt: str
    mime: str
    size: int = 0  # bytes, when the file was checked


@dataclass(frozen=True)
class Outgoing:
    """One post as one channel receives it."""

    key: str  # the ledger key: also the idempotency key / marker sent to the network
    post: str  # the post's id in the calendar
    channel: str
    text: str  # the text for this channel, link included where the network has no link field
    publish_at: datetime  # UTC
    body: str = ""  # the Markdown body (blogs)
    link: str | None = None
    title: str | None = None
    slug: str | None = None
    tags: tuple[str, ...] = ()
    excerpt: str | None = None
    media: tuple[MediaFile, ...] = ()
    schedule: bool = False  # hand the post to the site to publish at publish_at (WordPress)


@dataclass(frozen=True)
class Published:
    """Where a post ended up."""

    id: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "url": self.url}


class ProviderError(Exception):
    """The network refused the post. ``sent`` is False when it certainly did not publish it."""

    def __init__(self, message: str, *, sent: bool | None = False) -> None:
        super().__init__(message)
        self.sent = sent


class RateLimited(ProviderError):
    """429 or a daily limit: try again no sooner than ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, sent=False)
        self.retry_after = retry_after


class AuthExpired(ProviderError):
    """The channel's credentials were refused and could not be refreshed: reconnect it."""


@dataclass
class Provider:
    """Base class of a network. Subclass it, set ``name`` and override `publish`.

    ``name`` is also the account type (``type: <name>`` in client.yaml) whose settings model is
    ``settings``. ``max_chars`` and `count` are how the network counts a post's length.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    max_chars: ClassVar[int | None] = None
    max_media: ClassVar[int] = 4
    # the largest media file sent (read whole to be sent): a bigger one holds the post back
    max_media_bytes: ClassVar[int] = 100 * 1024 * 1024
    daily_limit: ClassVar[int | None] = None
    blog: ClassVar[bool] = False  # a blog: title and body, the text is the excerpt
    options: dict[str, Any] = field(default_factory=dict)

    def count(self, text: str) -> int:
        """The post's length as the network counts it (default: Unicode code points)."""
        return len(text)

    def compose(self, text: str, link: str | None) -> str:
        """The text sent: the link appended when the network has no field of its own for it."""
        if link and link not in text:
            return f"{text}\n\n{link}" if text else link
        return text

    def publish(self, target: Target, out: Outgoing) -> Published:
        """Upload ``out.media`` then publish; raise `ProviderError` subclasses on refusal."""
        raise NotImplementedError

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        """Find ``out`` on the channel after an answer was lost (None: certainly not there).

        Providers that cannot look a post up leave this as is: an interrupted post then stops
        with the ledger's 'outcome unknown' for the AV to settle, rather than risk a double.
        """
        raise NotImplementedError

    def can_lookup(self, target: Target) -> bool:
        """Whether `lookup` works for this channel (default: when the class overrides it)."""
        return type(self).lookup is not Provider.lookup
