"""Mastodon through Mastodon.py: media with descriptions, then the status with an
``Idempotency-Key``; a lost answer is looked up among the account's recent statuses."""

from __future__ import annotations

import html
import re
import time
from typing import Any

from pydantic import Field

from avflow_social.provider import (
    AuthExpired,
    ChannelSettings,
    Outgoing,
    Provider,
    ProviderError,
    Published,
    RateLimited,
    Target,
)

URL = re.compile(r"https?://[^\s<>\"']+")
MENTION = re.compile(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class MastodonSettings(ChannelSettings):
    base_url: str = Field(description="The instance, e.g. https://mastodon.social.")
    access_token: str = Field(
        description='"${secret:mastodon}": a token with write:statuses, write:media.'
    )
    visibility: str = Field(default="public", pattern="^(public|unlisted|private)$")
    max_chars: int = Field(default=500, ge=1, description="The instance's limit (500 on most).")
    timeout: float = Field(default=30.0, gt=0, le=600)


def plain(content: str) -> str:
    """A status's HTML as comparable text: tags and all whitespace removed."""
    from html.parser import HTMLParser  # a lost answer is rare: not imported with the plugin

    parts: list[str] = []
    parser = HTMLParser()
    parser.handle_data = parts.append  # type: ignore[method-assign, assignment]
    parser.feed(content)
    return re.sub(r"\s+", "", html.unescape("".join(parts)))


class Mastodon(Provider):
    name = "mastodon"
    description = "A Mastodon account (Mastodon.py)."
    settings = MastodonSettings
    max_chars = 500
    max_media = 4
    daily_limit = 300

    def count(self, text: str) -> int:
        """As Mastodon counts: a link is 23 characters, a mention counts only its user name."""
        text = URL.sub("x" * 23, text)
        return len(MENTION.sub(r"\1", text))

    def _api(self, target: Target) -> Any:
        import requests
        from mastodon import Mastodon as Api

        from avflow_social.providers.redirects import requests_hook

        s = target.settings
        session = requests.Session()  # a redirect to another host is refused, not followed
        session.hooks["response"].append(requests_hook)
        return Api(
            access_token=s.access_token, api_base_url=s.base_url.rstrip("/"),
            request_timeout=s.timeout, ratelimit_method="throw", version_check_mode="none",
            session=session,
        )  # fmt: skip

    def _call(
        self,
        api: Any,
        target: Target,
        what: str,
        fn: Any,
        *args: Any,
        created: bool = False,
        **kw: Any,
    ) -> Any:
        from mastodon import errors as e

        try:
            return fn(*args, **kw)
        except e.MastodonRatelimitError:
            reset = getattr(api, "ratelimit_reset", None) or (time.time() + 300)
            raise RateLimited(
                f"Mastodon {what}: rate limited", max(1.0, reset - time.time())
            ) from None
        except e.MastodonUnauthorizedError:
            raise AuthExpired(
                f"Mastodon {what}: the access token was refused; reconnect the channel: "
                f"avflow secrets set {target.client.id} <the access_token secret>"
            ) from None
        except e.MastodonServerError as exc:
            raise ProviderError(
                f"Mastodon {what}: {exc}", sent=None if created else False
            ) from None
        except e.MastodonAPIError as exc:
            raise ProviderError(f"Mastodon {what}: {exc}") from None

    def publish(self, target: Target, out: Outgoing) -> Published:
        api = self._api(target)
        media_ids = [
            self._call(
                api,
                target,
                "media",
                api.media_post,
                str(m.path),
                mime_type=m.mime,
                description=m.alt,
            )["id"]
            for m in out.media
        ]
        status = self._call(
            api, target, "status", api.status_post, out.text, media_ids=media_ids or None,
            visibility=target.settings.visibility, idempotency_key=out.key, created=True,
        )  # fmt: skip
        if not isinstance(status, dict) or not status.get("id"):  # not a status: looked up
            raise ProviderError(
                "Mastodon status: the answer has no status id; outcome unknown", sent=None
            )
        return Published(str(status["id"]), str(status.get("url") or status.get("uri") or ""))

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        """The account's recent statuses, compared as text (the Idempotency-Key also holds for
        an hour on the server, so a repeat in that time returns the first status anyway)."""
        api = self._api(target)
        me = self._call(api, target, "account", api.account_verify_credentials)
        recent = self._call(api, target, "statuses", api.account_statuses, me["id"], limit=40)
        want = plain(html.escape(out.text))
        for status in recent:
            if plain(str(status.get("content", ""))) == want:
                return Published(
                    str(status["id"]), str(status.get("url") or status.get("uri") or "")
                )
        return None
