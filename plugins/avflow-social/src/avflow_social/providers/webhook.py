"""A generic webhook: each post as one JSON POST (Make, Zapier, Buffer, your own endpoint)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pydantic import Field

from avflow_social.provider import ChannelSettings, Outgoing, Provider, Published, Target
from avflow_social.providers.http import check

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    pass


class WebhookSettings(ChannelSettings):
    url: str = Field(description="Where each post is POSTed as JSON.")
    headers: dict[str, str] = Field(
        default_factory=lambda: {},
        description='Extra headers, e.g. {Authorization: "${secret:hook}"}.',
    )
    lookup_url: str | None = Field(
        default=None,
        description="GET <lookup_url>?key=KEY answers 200 {id, url} when the post was received, "
        "404 when not: lets an interrupted post be checked instead of left for the AV.",
    )
    max_chars: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=30.0, gt=0, le=600)


class Webhook(Provider):
    """POSTs ``{key, post, channel, text, link, title, ..., media: [{name, type, alt, data}]}``
    with the header ``Idempotency-Key: <key>``; the receiver should ignore a key it has seen."""

    name = "social_webhook"
    description = "A JSON POST per post to a URL (Make, Zapier, Buffer, your own)."
    settings = WebhookSettings

    def _payload(self, out: Outgoing) -> dict[str, Any]:
        return {
            "key": out.key, "post": out.post, "channel": out.channel, "text": out.text,
            "publish_at": out.publish_at.isoformat(), "link": out.link, "title": out.title,
            "slug": out.slug, "tags": list(out.tags), "excerpt": out.excerpt,
            "body": out.body if out.title else None,
            "media": [
                {"name": m.path.name, "type": m.mime, "alt": m.alt,
                 "data": base64.b64encode(m.path.read_bytes()).decode()}
                for m in out.media
            ],
        }  # fmt: skip

    def publish(self, target: Target, out: Outgoing) -> Published:
        import httpx

        s = target.settings
        headers = {**s.headers, "Idempotency-Key": out.key}
        with httpx.Client(timeout=s.timeout) as http:
            resp = http.post(s.url, json=self._payload(out), headers=headers)
        check(resp, "webhook", reconnect=f"avflow secrets set {target.client.id} ...", created=True)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        return Published(str(body.get("id") or out.key), str(body.get("url") or ""))

    def can_lookup(self, target: Target) -> bool:
        return bool(target.settings.lookup_url)

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        import httpx

        s = target.settings
        with httpx.Client(timeout=s.timeout) as http:
            resp = http.get(s.lookup_url, params={"key": out.key}, headers=s.headers)
        if resp.status_code == 404:
            return None
        check(resp, "webhook lookup", reconnect=f"avflow secrets set {target.client.id} ...")
        body = resp.json()
        return Published(str(body.get("id") or out.key), str(body.get("url") or ""))
