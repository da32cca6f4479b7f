"""Each network through its real client library (Mastodon.py; httpx for WordPress and the
webhook) against a local server that implements the endpoints and checks auth and payloads:
media first, 401, 429 with Retry-After, 500, and a timeout after the server accepted the post."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bluesky_server as bsky
import pytest
import social_server as srv
from social_helpers import social_client, write_post

from avflow.testing import Harness


@dataclass
class Net:
    name: str
    server: srv.Server
    create: str  # the route that creates a post
    media: str

    @property
    def posts(self) -> list[dict[str, Any]]:
        return self.server.net.posts


def _account(name: str, url: str) -> tuple[dict[str, Any], str, str]:
    if name == "wordpress":
        acc = {"type": "wordpress", "url": url, "username": "bloom", "app_password": "${secret:pw}"}
        return acc, "abcd efgh ijkl", "POST /wp-json/wp/v2/posts"
    if name == "mastodon":
        acc = {"type": "mastodon", "base_url": url, "access_token": "${secret:pw}"}
        return acc, "tok-123", "POST /api/v1/statuses"
    if name == "facebook":
        acc = {"type": "facebook_page", "page_id": "42", "page_token": "${secret:pw}",
               "graph_url": f"{url}/v19.0"}  # fmt: skip
        return acc, "tok-123", "POST /v19.0/42/feed"
    if name == "bluesky":
        acc = {"type": "bluesky", "handle": bsky.HANDLE, "app_password": "${secret:pw}",
               "service": url}  # fmt: skip
        return acc, "abcd efgh ijkl", "POST /xrpc/com.atproto.repo.createRecord"
    if name == "linkedin":
        acc = {"type": "linkedin", "author": "urn:li:organization:42", "access_token": "${secret:pw}",
               "api_url": url, "token_url": f"{url}/oauth/v2/accessToken"}  # fmt: skip
        return acc, "tok-123", "POST /rest/posts"
    acc = {
        "type": "social_webhook", "url": f"{url}/hook", "lookup_url": f"{url}/hook/lookup",
        "headers": {"Authorization": "${secret:pw}"},
    }  # fmt: skip
    return acc, "Bearer tok-123", "POST /hook"


APPS = {
    "wordpress": srv.wordpress,
    "mastodon": srv.mastodon,
    "webhook": srv.webhook,
    "linkedin": srv.linkedin,
    "facebook": srv.facebook,
    "bluesky": bsky.bluesky,
}
MEDIA = {
    "wordpress": "POST /wp-json/wp/v2/media",
    "mastodon": "POST /api/v",
    "webhook": "-",
    "linkedin": "PUT /upload/",
    "facebook": "POST /v19.0/42/photos",
    "bluesky": "POST /xrpc/com.atproto.repo.uploadBlob",
}


@pytest.fixture(params=sorted(APPS))
def net(request: pytest.FixtureRequest, avflow_harness: Harness) -> Iterator[Net]:
    server = srv.Server(APPS[request.param])
    acc, secret, create = _account(request.param, server.url)
    posts = social_client(avflow_harness, accounts={"ch": {**acc, "timeout": 1}})
    avflow_harness.secret("bloom", "pw", secret)
    (posts / "bun.png").write_bytes(b"\x89PNG\r\n\x1a\nbun")
    write_post(
        posts, "menu", "# Spring\n\nNew **menu**.", publish="2026-03-16 09:00", channels=["ch"],
        status="approved", title="Spring menu", slug="spring-menu", tags=["menu"],
        text="Spring menu is out", link="https://bloom.example/menu",
        media=[{"file": "bun.png", "alt": "A cinnamon bun"}],
    )  # fmt: skip
    avflow_harness.clock.set("2026-03-16T09:00:00+01:00")
    yield Net(request.param, server, create, MEDIA[request.param])
    server.shutdown()


def publish(h: Harness) -> Any:
    return h.run("bloom/publish")


def test_media_first_then_the_post_with_its_permalink(avflow_harness: Harness, net: Net) -> None:
    result = publish(avflow_harness)
    assert result.ok, result.error
    [post] = net.posts
    [out] = result.outputs["publish"]["published"]
    log = net.server.net.log
    if net.name == "wordpress":
        assert post["title"] == "Spring menu" and "<strong>menu</strong>" in post["content"]
        assert post["slug"] == "spring-menu" and post["tags"] and post["status"] == "publish"
        assert net.server.net.media["1"]["alt_text"] == "A cinnamon bun"
        assert out["url"] == post["link"]
    elif net.name == "mastodon":
        assert "Spring menu is out<br /><br />https://bloom.example/menu" in post["content"]
        assert post["media_attachments"][0]["description"] == "A cinnamon bun"
        assert post["key"] == "menu:ch:r1" and out["url"] == post["url"]
    elif net.name == "facebook":
        assert (
            post["message"] == "Spring menu is out" and post["link"] == "https://bloom.example/menu"
        )
        assert net.server.net.media[post["media"][0]]["alt"] == "A cinnamon bun"
        assert out["url"] == f"https://www.facebook.com/{post['id']}"
    elif net.name == "bluesky":
        assert post["text"] == "Spring menu is out\n\nhttps://bloom.example/menu"
        [facet] = post["facets"]  # checked by the server against the UTF-8 bytes
        assert facet["features"][0]["uri"] == "https://bloom.example/menu"
        [image] = post["embed"]["images"]
        assert image["alt"] == "A cinnamon bun" and net.server.net.media
        assert out["url"] == f"https://bsky.app/profile/{bsky.HANDLE}/post/{post['rkey']}"
        assert out["id"] == post["uri"]
    elif net.name == "linkedin":
        assert post["commentary"] == "Spring menu is out\n\nhttps://bloom.example/menu"
        assert post["content"]["media"]["altText"] == "A cinnamon bun"
        assert out["url"] == f"https://www.linkedin.com/feed/update/{post['id']}/"
    else:
        assert post["media"][0]["alt"] == "A cinnamon bun" and post["key"] == "menu:ch:r1"
        assert out["url"] == "https://hook.example/1"
    if net.name != "webhook":
        assert log.index(next(r for r in log if r.startswith(net.media))) < log.index(net.create)
    assert publish(avflow_harness).outputs["publish"]["published"] == [] and len(net.posts) == 1


def test_refused_credentials_fail_with_the_reconnect_command(
    avflow_harness: Harness, net: Net
) -> None:
    h = avflow_harness
    h.secret("bloom", "pw", "wrong")
    result = publish(h)
    assert not result.ok and "reconnect the channel" in result.error
    assert "avflow secrets set bloom" in result.error and "wrong" not in result.error
    assert net.posts == []


def test_429_waits_for_retry_after_then_posts_once(avflow_harness: Harness, net: Net) -> None:
    h = avflow_harness
    net.server.net.fail(net.create, (429, {"Retry-After": "120"}))
    first = publish(h)
    assert first.ok, first.error
    [deferred] = first.outputs["publish"]["deferred"]
    until = datetime.fromisoformat(deferred["until"])
    assert deferred["reason"] == "rate limited" and net.posts == []
    assert timedelta(seconds=100) <= until - h.clock.now() <= timedelta(seconds=121)
    requests = len(net.server.net.log)
    h.clock.advance(seconds=60)
    assert publish(h).outputs["publish"]["deferred"] and len(net.server.net.log) == requests
    h.clock.advance(seconds=61)
    assert len(publish(h).outputs["publish"]["published"]) == 1
    assert len(net.posts) == 1


def test_500_is_looked_up_then_sent_once(avflow_harness: Harness, net: Net) -> None:
    net.server.net.fail(net.create, (500, {}))
    result = publish(avflow_harness)
    assert result.ok, result.error
    assert len(net.posts) == 1 and net.server.net.log.count(net.create) == 2


def test_timeout_after_the_server_accepted_gives_one_post(
    avflow_harness: Harness, net: Net
) -> None:
    net.server.net.fail(net.create, ("hang", 2.5))
    result = publish(avflow_harness)
    assert result.ok, result.error
    assert len(net.posts) == 1 and net.server.net.log.count(net.create) == 1
    [out] = result.outputs["publish"]["published"]
    assert out["id"] in str(net.posts[0]) or net.name == "webhook"
    reconciled = [r for r in avflow_harness.audit("bloom") if r.get("event") == "effect.reconciled"]
    assert reconciled and reconciled[-1]["details"]["found"] is True
    assert publish(avflow_harness).ok and len(net.posts) == 1


def test_a_webhook_without_lookup_is_never_sent_twice(avflow_harness: Harness) -> None:
    h = avflow_harness
    server = srv.Server(srv.webhook)
    acc = {"type": "social_webhook", "url": f"{server.url}/hook", "timeout": 1,
           "headers": {"Authorization": "Bearer tok-123"}}  # fmt: skip
    posts = social_client(h, accounts={"hook": acc})
    write_post(posts, "p", publish="2026-03-16 09:00", channels=["hook"], status="approved")
    h.clock.set("2026-03-16T09:00:00+01:00")
    server.net.fail("POST /hook", ("hang", 2.5))
    first = publish(h)
    assert not first.ok and "outcome unknown" in first.error
    second = publish(h)
    assert not second.ok and "cannot be asked" in second.error
    assert len(server.net.posts) == 1
    server.shutdown()


def test_wordpress_schedules_ahead_with_status_future(avflow_harness: Harness) -> None:
    h = avflow_harness
    server = srv.Server(srv.wordpress)
    acc = {"type": "wordpress", "url": server.url, "username": "bloom",
           "app_password": "abcd efgh ijkl", "mode": "schedule"}  # fmt: skip
    posts = social_client(h, accounts={"blog": acc})
    write_post(posts, "p", "Body", publish="2026-03-20 09:00", channels=["blog"], status="approved",
               title="Soon")  # fmt: skip
    write_post(posts, "d", "Body", publish="2026-03-20 09:00", channels=["blog"], title="Draft")
    h.clock.set("2026-03-16T09:00:00+01:00")
    assert publish(h).ok
    [post] = server.net.posts
    assert post["status"] == "future" and post["date_gmt"] == "2026-03-20T08:00:00"
    server.shutdown()


def test_mastodon_counts_links_as_23(avflow_harness: Harness, tmp_path: Path) -> None:
    from avflow_social.providers.mastodon import Mastodon

    m = Mastodon()
    assert m.count("see https://example.com/" + "a" * 200) == 4 + 23
    assert m.count("hi @anna@mastodon.social") == len("hi @anna")
