"""A Facebook Page through the Graph API with httpx: photos uploaded unpublished first, then the
feed post with them attached; a lost answer is looked up in the Page's latest posts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from avflow_social.providers.http import check, retry_after

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    import httpx

RATE_CODES = {4, 17, 32, 613}  # Graph API: application, user, page and custom rate limits


class FacebookSettings(ChannelSettings):
    page_id: str
    page_token: str = Field(description='A Page access token: "${secret:facebook}".')
    graph_url: str = "https://graph.facebook.com/v19.0"
    timeout: float = Field(default=30.0, gt=0, le=600)


class Facebook(Provider):
    name = "facebook_page"
    description = "A Facebook Page (Graph API)."
    settings = FacebookSettings
    max_chars = 63206
    max_media = 10
    daily_limit = 50

    def _check(self, resp: httpx.Response, what: str, target: Target, created: bool = False) -> Any:
        if resp.status_code in (400, 403):
            try:
                err = resp.json().get("error", {})
            except ValueError:
                err = {}
            code = int(err.get("code", 0) or 0)
            if code in RATE_CODES:
                raise RateLimited(
                    f"Facebook {what}: rate limited ({code})",
                    retry_after(resp.headers.get("Retry-After"), 3600),
                )
            if code == 190 or (err.get("type") == "OAuthException" and code in (102, 190)):
                raise AuthExpired(
                    f"Facebook {what}: the Page token was refused; reconnect the channel: "
                    f"avflow secrets set {target.client.id} <the page_token secret>"
                )
            raise ProviderError(f"Facebook {what}: {err.get('message', resp.status_code)}")
        check(
            resp,
            f"Facebook {what}",
            reconnect=f"avflow secrets set {target.client.id} <the page_token secret>",
            created=created,
        )
        return resp.json()

    def publish(self, target: Target, out: Outgoing) -> Published:
        import httpx

        s = target.settings
        with httpx.Client(base_url=s.graph_url.rstrip("/"), timeout=s.timeout) as http:
            auth = {"access_token": s.page_token}
            attached = []
            for m in out.media:  # uploaded unpublished first, then attached to the post
                files = {"source": (m.path.name, m.path.read_bytes(), m.mime)}
                data = {**auth, "published": "false", "alt_text_custom": m.alt}
                photo = self._check(
                    http.post(f"/{s.page_id}/photos", data=data, files=files), "photo", target
                )
                attached.append({"media_fbid": str(photo["id"])})
            form: dict[str, Any] = {**auth, "message": out.text}
            if out.link:
                form["link"] = out.link
            for i, a in enumerate(attached):
                form[f"attached_media[{i}]"] = f'{{"media_fbid":"{a["media_fbid"]}"}}'
            body = self._check(
                http.post(f"/{s.page_id}/feed", data=form), "post", target, created=True
            )
            post_id = str(body["id"])
            return Published(post_id, f"https://www.facebook.com/{post_id}")

    def compose(self, text: str, link: str | None) -> str:
        return text  # the link travels in its own field

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        import httpx

        s = target.settings
        with httpx.Client(base_url=s.graph_url.rstrip("/"), timeout=s.timeout) as http:
            params = {
                "access_token": s.page_token,
                "fields": "id,message,permalink_url",
                "limit": 25,
            }
            body = self._check(http.get(f"/{s.page_id}/feed", params=params), "lookup", target)
            for post in body.get("data", []):
                if post.get("message") == out.text:
                    return Published(str(post["id"]), str(post.get("permalink_url") or ""))
        return None
