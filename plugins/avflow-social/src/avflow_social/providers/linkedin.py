"""LinkedIn through the Posts API (``/rest/posts``, ``/rest/images``) with httpx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import Field

from avflow_social.provider import (
    ChannelSettings,
    Outgoing,
    Provider,
    ProviderError,
    Published,
    Target,
)
from avflow_social.providers.http import check
from avflow_social.providers.oauth import Tokens

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    import httpx


class LinkedInSettings(ChannelSettings):
    author: str = Field(description="urn:li:organization:123 (a page) or urn:li:person:abc.")
    access_token: str = Field(description='"${secret:linkedin}"')
    refresh_token: str | None = Field(default=None, description='"${secret:linkedin_refresh}"')
    client_id: str | None = None
    client_secret: str | None = None
    api_url: str = "https://api.linkedin.com"
    token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    version: str = Field(default="202405", description="The LinkedIn-Version header (YYYYMM).")
    timeout: float = Field(default=30.0, gt=0, le=600)


class LinkedIn(Provider):
    name = "linkedin"
    description = "A LinkedIn page or member (Posts API, OAuth with refresh)."
    settings = LinkedInSettings
    max_chars = 3000
    max_media = 1
    daily_limit = 150

    def _session(self, target: Target) -> tuple[httpx.Client, Tokens]:
        import httpx

        s = target.settings
        headers = {"LinkedIn-Version": s.version, "X-Restli-Protocol-Version": "2.0.0"}
        http = httpx.Client(base_url=s.api_url.rstrip("/"), headers=headers, timeout=s.timeout)
        reconnect = f"avflow secrets set {target.client.id} <the linkedin token secrets>"
        return http, Tokens(target, reconnect)

    def _upload(self, http: httpx.Client, tokens: Tokens, target: Target, media: Any) -> str:
        init = {"initializeUploadRequest": {"owner": target.settings.author}}
        resp = tokens.send(http, "POST", "/rest/images?action=initializeUpload", json=init)
        check(resp, "LinkedIn image", reconnect=tokens.reconnect)
        value = resp.json()["value"]
        put = tokens.send(http, "PUT", value["uploadUrl"], content=media.path.read_bytes())
        check(put, "LinkedIn image upload", reconnect=tokens.reconnect)
        return str(value["image"])

    def publish(self, target: Target, out: Outgoing) -> Published:
        http, tokens = self._session(target)
        with http:
            doc: dict[str, Any] = {
                "author": target.settings.author, "commentary": out.text, "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                 "thirdPartyDistributionChannels": []},
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
            }  # fmt: skip
            for m in out.media:  # media first
                doc["content"] = {
                    "media": {"id": self._upload(http, tokens, target, m), "altText": m.alt}
                }
            resp = tokens.send(http, "POST", "/rest/posts", json=doc)
            check(resp, "LinkedIn post", reconnect=tokens.reconnect, created=True)
            urn = resp.headers.get("x-restli-id", "")
            if not urn:  # not LinkedIn's answer (a proxy's?): it is looked up, not assumed
                raise ProviderError(
                    f"LinkedIn post: answered {resp.status_code} without the post's id "
                    "(x-restli-id); outcome unknown",
                    sent=None,
                )
            return Published(urn, f"https://www.linkedin.com/feed/update/{urn}/")

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        """The author's latest posts, compared by their text."""
        http, tokens = self._session(target)
        with http:
            url = f"/rest/posts?q=author&author={quote(target.settings.author, safe='')}&count=20"
            resp = tokens.send(http, "GET", url)
            check(resp, "LinkedIn lookup", reconnect=tokens.reconnect)
            for post in resp.json().get("elements", []):
                if post.get("commentary") == out.text:
                    urn = str(post["id"])
                    return Published(urn, f"https://www.linkedin.com/feed/update/{urn}/")
        return None
