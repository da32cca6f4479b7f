"""WordPress through its REST API (``/wp-json/wp/v2``) with an application password."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from avflow_social.provider import ChannelSettings, Outgoing, Provider, Published, Target
from avflow_social.providers.http import check

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    import httpx

STATUSES = "publish,future,draft,pending,private"


class WordPressSettings(ChannelSettings):
    url: str = Field(description="The site's address, e.g. https://blog.example.")
    username: str
    app_password: str = Field(description='An application password: "${secret:wordpress}".')
    mode: Literal["publish", "schedule"] = Field(
        default="publish",
        description="schedule: hand approved posts to WordPress ahead, status=future at their time.",
    )
    timeout: float = Field(default=30.0, gt=0, le=600)


def slug_of(out: Outgoing) -> str:
    return out.slug or out.post.lower().replace(".", "-").replace("_", "-")


def markdown_html(body: str) -> str:
    """The post's Markdown as HTML (the parser is imported when a post is sent)."""
    from markdown_it import MarkdownIt

    return MarkdownIt().render(body)


class WordPress(Provider):
    """A blog post: title, body (Markdown rendered to HTML), excerpt, tags, featured image."""

    name = "wordpress"
    description = "A WordPress site (REST API, application password)."
    settings = WordPressSettings
    blog = True
    max_media = 1

    def _client(self, target: Target) -> httpx.Client:
        import httpx

        s = target.settings
        return httpx.Client(
            base_url=s.url.rstrip("/") + "/wp-json/wp/v2",
            auth=(s.username, s.app_password),
            timeout=s.timeout,
        )

    def _reconnect(self, target: Target) -> str:
        return f"avflow secrets set {target.client.id} <the app_password secret>"

    def publish(self, target: Target, out: Outgoing) -> Published:
        with self._client(target) as http:
            doc: dict[str, Any] = {
                "title": out.title or "",
                "content": markdown_html(out.body),
                "slug": slug_of(out),
                "status": "publish",
            }
            if out.excerpt:
                doc["excerpt"] = out.excerpt
            if target.settings.mode == "schedule" and out.schedule:
                doc["status"] = "future"
                doc["date_gmt"] = out.publish_at.strftime("%Y-%m-%dT%H:%M:%S")
            if out.tags:
                doc["tags"] = [self._tag(http, target, t) for t in out.tags]
            for m in out.media:  # media first; the first is the featured image
                doc["featured_media"] = self._upload(http, target, m)
            resp = http.post("/posts", json=doc)
            check(resp, "WordPress post", reconnect=self._reconnect(target), created=True)
            body = resp.json()
            return Published(str(body["id"]), str(body.get("link", "")))

    def _tag(self, http: httpx.Client, target: Target, name: str) -> int:
        resp = http.get("/tags", params={"search": name, "per_page": 100})
        check(resp, "WordPress tags", reconnect=self._reconnect(target))
        for tag in resp.json():
            if str(tag.get("name", "")).lower() == name.lower():
                return int(tag["id"])
        resp = http.post("/tags", json={"name": name})
        check(resp, "WordPress tag", reconnect=self._reconnect(target))
        return int(resp.json()["id"])

    def _upload(self, http: httpx.Client, target: Target, media: Any) -> int:
        resp = http.post(
            "/media",
            content=media.path.read_bytes(),
            headers={
                "Content-Type": media.mime,
                "Content-Disposition": f'attachment; filename="{media.path.name}"',
            },
        )
        check(resp, "WordPress media", reconnect=self._reconnect(target))
        media_id = int(resp.json()["id"])
        resp = http.post(f"/media/{media_id}", json={"alt_text": media.alt})
        check(resp, "WordPress media alt text", reconnect=self._reconnect(target))
        return media_id

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        """A post is found again by its slug (WordPress makes slugs unique)."""
        with self._client(target) as http:
            params = {"slug": slug_of(out), "status": STATUSES, "context": "edit"}
            resp = http.get("/posts", params=params)
            check(resp, "WordPress lookup", reconnect=self._reconnect(target))
            for post in resp.json():
                if post.get("slug") == slug_of(out):
                    return Published(str(post["id"]), str(post.get("link", "")))
        return None
