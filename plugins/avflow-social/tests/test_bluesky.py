"""Bluesky through ``atproto`` against the PDS stand-in: the session (expired access token
refreshed, the rotated refresh token kept, a transient refresh error retried, a revoked app
password -> the reconnect command), graphemes as Bluesky counts them, link facets in UTF-8
bytes, and a record key the PDS takes only once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bluesky_server as bsky
import pytest
import social_server as srv
from avflow_social.provider import Outgoing, Published, Target
from avflow_social.providers.bluesky import Bluesky, link_facets, tid
from social_helpers import social_client, write_post

from avflow.testing import Harness


@pytest.fixture
def pds(avflow_harness: Harness) -> Iterator[srv.Server]:
    server = srv.Server(bsky.bluesky)
    acc = {"type": "bluesky", "handle": bsky.HANDLE, "app_password": "${secret:bsky}",
           "service": server.url, "timeout": 2}  # fmt: skip
    posts = social_client(avflow_harness, accounts={"sky": acc})
    avflow_harness.secret("bloom", "bsky", "abcd efgh ijkl")
    for i in range(3):
        write_post(posts, f"p{i}", f"Post {i} 🌷 see https://bloom.example/p/{i}",
                   publish=f"2026-03-1{6 + i} 09:00", channels=["sky"], status="approved")  # fmt: skip
    avflow_harness.clock.set("2026-03-16T09:00:00+01:00")
    yield server
    server.shutdown()


def session_file(h: Harness) -> dict[str, Any]:
    path = h.home / "plugins" / "social" / "tokens" / "bloom.sky.json"
    assert path.stat().st_mode & 0o077 == 0
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def day(h: Harness, n: int) -> Any:
    h.clock.set(f"2026-03-1{6 + n}T09:00:00+01:00")
    return h.run("bloom/publish")


def test_the_session_is_kept_and_an_expired_access_token_refreshed(
    avflow_harness: Harness, pds: srv.Server
) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    first = day(h, 0)
    assert first.ok, first.error
    assert st["sessions"] == 1 and st["refreshes"] == 0
    old = session_file(h)["refreshJwt"]
    assert old == st["refresh"]
    # the stored access token expires: refreshed before use with the stored refresh token
    path = h.home / "plugins" / "social" / "tokens" / "bloom.sky.json"
    st["access"] = bsky.jwt("com.atproto.appPass", 99, -10)
    path.write_text(json.dumps({**session_file(h), "accessJwt": st["access"]}))
    second = day(h, 1)
    assert second.ok, second.error
    assert st["sessions"] == 1 and st["refreshes"] == 1
    # the server rotated the refresh token: the new one is stored, the old one is gone
    assert session_file(h)["refreshJwt"] == st["refresh"] != old
    assert day(h, 2).ok and st["sessions"] == 1 and st["refreshes"] == 1
    assert len(pds.net.posts) == 3


def test_a_token_the_sdk_refreshes_itself_is_kept(avflow_harness: Harness, pds: srv.Server) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    st["access_ttl"] = 60  # so short that the SDK refreshes it right after the sign-in
    assert day(h, 0).ok
    assert st["refreshes"] == 1 and session_file(h)["refreshJwt"] == st["refresh"]
    st["access_ttl"] = 7200
    assert day(h, 1).ok and st["sessions"] == 1 and len(pds.net.posts) == 2


def test_a_401_refreshes_once_and_sends_again(avflow_harness: Harness, pds: srv.Server) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    assert day(h, 0).ok
    st["access"] = "revoked-by-the-server"  # the JWT still looks valid to the client
    result = day(h, 1)
    assert result.ok, result.error
    assert st["refreshes"] == 1 and st["sessions"] == 1 and len(pds.net.posts) == 2
    # day 0's post, the refused one, the one sent again after the refresh
    assert pds.net.log.count("POST /xrpc/com.atproto.repo.createRecord") == 3


def test_a_transient_refresh_error_is_retried(avflow_harness: Harness, pds: srv.Server) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    assert day(h, 0).ok
    st["access"] = "expired"
    pds.net.fail("POST /xrpc/com.atproto.server.refreshSession", (503, {}), (502, {}))
    result = day(h, 1)
    assert result.ok, result.error
    assert pds.net.log.count("POST /xrpc/com.atproto.server.refreshSession") == 3
    assert st["sessions"] == 1 and len(pds.net.posts) == 2


def test_a_refused_refresh_token_signs_in_again_with_the_app_password(
    avflow_harness: Harness, pds: srv.Server
) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    assert day(h, 0).ok
    st["access"], st["refresh"] = "expired", "revoked"
    result = day(h, 1)
    assert result.ok, result.error
    assert st["sessions"] == 2 and len(pds.net.posts) == 2


def test_a_revoked_app_password_fails_with_the_reconnect_command(
    avflow_harness: Harness, pds: srv.Server
) -> None:
    h, st = avflow_harness, bsky.state(pds.net)
    assert day(h, 0).ok
    st["access"], st["refresh"] = "expired", "revoked"
    pds.net.password = "a-new-app-password"  # the member revoked the app password
    h.clock.set("2026-03-18T09:00:00+01:00")
    result = h.run("bloom/publish")
    assert not result.ok
    lines = [line for line in result.error.splitlines() if line.strip()]
    assert len(lines) == 1 and "reconnect the channel: avflow secrets set bloom" in lines[0]
    assert "abcd efgh ijkl" not in result.error and len(pds.net.posts) == 1
    # both posts failed on the one refused sign-in: the channel is not asked again in the pass
    assert pds.net.log.count("POST /xrpc/com.atproto.server.createSession") == 2
    h.secret("bloom", "bsky", "a-new-app-password")  # the AV reconnects
    assert h.run("bloom/publish").ok and len(pds.net.posts) == 3


def test_length_is_counted_in_graphemes_and_bytes() -> None:
    b = Bluesky()
    family = "👨\u200d👩\u200d👧"  # one grapheme, 8 code points, 18 bytes
    assert b.count(family) == 1 and b.count("é" * 300) == 300
    assert b.count("e\u0301" * 300) == 300  # combining accents: 600 code points, 300 graphemes
    assert b.count("a" * 301) == 301
    assert b.count(family * 166) == 166  # 2,988 bytes
    assert b.count(family * 167) > 300  # 167 graphemes but 3,006 bytes: over Bluesky's limit


def test_a_too_long_post_is_held_back_by_the_queue(
    avflow_harness: Harness, pds: srv.Server, tmp_path: Path
) -> None:
    h = avflow_harness
    posts = h.workflows / "bloom" / "posts"
    write_post(posts, "long", "🌷" * 301, publish="2026-03-16 08:00", channels=["sky"],
               status="approved")  # fmt: skip
    result = h.run("bloom/publish")
    assert not result.ok and "long" in result.error and "300" in result.error
    assert [p["text"][:6] for p in pds.net.posts] == ["Post 0"]


def test_link_facets_use_utf8_byte_offsets() -> None:
    text = "Nuovo menù 🌷 https://bloom.example/menù?x=1. Ciao"
    [facet] = link_facets(text)
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text.encode()[start:end].decode() == "https://bloom.example/menù?x=1"


def test_the_record_key_is_fixed_by_the_post_and_taken_once(
    avflow_harness: Harness, pds: srv.Server
) -> None:
    h = avflow_harness
    assert day(h, 0).ok
    [post] = pds.net.posts
    when = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    assert post["rkey"] == tid("p0:sky:r1", when) and tid("p0:sky:r2", when) != post["rkey"]
    # An attempt whose success was lost is sent again: the PDS refuses the key, the post is found
    settings = Bluesky.settings.model_validate(
        {"handle": bsky.HANDLE, "app_password": "abcd efgh ijkl", "service": pds.url}
    )
    info = h.app.project.clients["bloom"].info()
    target = Target("sky", settings, info, h.home / "plugins" / "social")
    out = Outgoing(key="p0:sky:r1", post="p0", channel="sky", text="Post 0", publish_at=when)
    again = Bluesky().publish(target, out)
    assert isinstance(again, Published) and again.id == post["uri"] and len(pds.net.posts) == 1
