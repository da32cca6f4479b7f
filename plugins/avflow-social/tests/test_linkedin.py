"""LinkedIn's expiring tokens: a 401 is refreshed (the refresh token is never lost), a transient
refresh error is retried, a revoked refresh token fails with the reconnect command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import social_server as srv
from social_helpers import social_client, write_post

from avflow.testing import Harness


@pytest.fixture
def li(avflow_harness: Harness) -> Iterator[srv.Server]:
    server = srv.Server(srv.linkedin)
    server.net.token = "acc-1"
    acc = {
        "type": "linkedin", "author": "urn:li:organization:42", "access_token": "${secret:access}",
        "refresh_token": "${secret:refresh}", "client_id": "app", "client_secret": "${secret:app}",
        "api_url": server.url, "token_url": f"{server.url}/oauth/v2/accessToken", "timeout": 2,
    }  # fmt: skip
    posts = social_client(avflow_harness, accounts={"li": acc})
    for name, value in (("access", "acc-1"), ("refresh", "ref-1"), ("app", "shh")):
        avflow_harness.secret("bloom", name, value)
    for i in range(2):
        write_post(posts, f"p{i}", f"Post {i}", publish=f"2026-03-1{6 + i} 09:00", channels=["li"],
                   status="approved")  # fmt: skip
    avflow_harness.clock.set("2026-03-16T09:00:00+01:00")
    yield server
    server.shutdown()


def stored(h: Harness) -> dict:
    return json.loads(
        next((h.home / "plugins" / "social" / "tokens").glob("bloom.li.json")).read_text()
    )


def test_401_refreshes_and_never_loses_the_refresh_token(
    avflow_harness: Harness, li: srv.Server
) -> None:
    h = avflow_harness
    li.net.token = "acc-expired-elsewhere"  # the stored access token has expired
    first = h.run("bloom/publish")
    assert first.ok, first.error
    assert len(li.net.posts) == 1 and li.net.issued == 1
    assert stored(h)["access_token"] == "acc-2" and stored(h)["refresh_token"] == "ref-1"
    assert (h.home / "plugins" / "social" / "tokens" / "bloom.li.json").stat().st_mode & 0o077 == 0
    li.net.token = "acc-expired-again"  # the endpoint answered without a refresh token last time
    h.clock.set("2026-03-17T09:00:00+01:00")
    second = h.run("bloom/publish")
    assert second.ok, second.error
    assert len(li.net.posts) == 2 and li.net.issued == 2 and stored(h)["refresh_token"] == "ref-1"


def test_a_transient_refresh_error_is_retried(avflow_harness: Harness, li: srv.Server) -> None:
    li.net.token = "acc-9"
    li.net.fail("POST /oauth/v2/accessToken", (503, {}))
    result = avflow_harness.run("bloom/publish")
    assert result.ok, result.error
    assert len(li.net.posts) == 1 and li.net.log.count("POST /oauth/v2/accessToken") == 2


def test_a_revoked_refresh_token_fails_with_the_reconnect_command(
    avflow_harness: Harness, li: srv.Server
) -> None:
    li.net.token = "acc-9"
    li.net.refresh = "ref-2"  # the member revoked the app: ref-1 is refused
    result = avflow_harness.run("bloom/publish")
    assert not result.ok and "refresh token was refused" in result.error
    assert "reconnect the channel: avflow secrets set bloom" in result.error
    assert "ref-1" not in result.error and li.net.posts == []


def test_reconnecting_replaces_the_stored_tokens(
    avflow_harness: Harness, li: srv.Server, tmp_path: Path
) -> None:
    h = avflow_harness
    li.net.token = "acc-x"
    assert h.run("bloom/publish").ok  # refreshed and stored from ref-1
    li.net.refresh, li.net.token = "ref-new", "acc-new"  # the AV reconnected the channel
    h.secret("bloom", "refresh", "ref-new")
    h.secret("bloom", "access", "acc-new")
    h.clock.set("2026-03-17T09:00:00+01:00")
    result = h.run("bloom/publish")
    assert result.ok, result.error
    assert len(li.net.posts) == 2
