"""A media file too big for its network: held back with one line before anything is sent. A
3 GB image was read whole into memory by the outbox (MemoryError, or the service killed by the
system), left an effect of unknown outcome, and the queue said nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import bluesky_server as bsky
import pytest
import social_server as srv
from social_helpers import avflow_cli, social_client, write_post

from avflow.testing import Harness


def sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no room on the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)


def test_a_huge_media_file_holds_its_post_back_and_the_others_go_out(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    sparse(posts / "media" / "huge.png", 3 * 1024**3)
    big = write_post(
        posts,
        "big",
        "Look at this",
        publish="2026-03-16 09:00",
        channels=["news"],
        status="approved",
        media=[{"file": "media/huge.png", "alt": "A very large picture"}],
    )
    write_post(posts, "small", publish="2026-03-16 09:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T09:30:00+01:00")
    result = h.run("bloom/publish")
    assert result.status == "failed"
    assert [p["post"] for p in result.outputs.get("publish", {}).get("published", [])] in (
        [],
        ["small"],
    )
    assert [e.key for e in result.effects] == ["small:news:r1"]  # nothing started for 'big'
    message = "media 'media/huge.png' is 3,221.2 MB, social_outbox takes at most 104.9 MB a file"
    assert f"big.md on news: {message}" in result.error
    queue = avflow_cli(h, "social", "queue", "bloom")
    assert queue.returncode != 0 and "Traceback" not in queue.stderr
    assert message in queue.stdout and f"{big}:" in queue.stdout


@pytest.fixture
def pds(avflow_harness: Harness) -> Iterator[tuple[srv.Server, Path]]:
    server = srv.Server(bsky.bluesky)
    acc = {"type": "bluesky", "handle": bsky.HANDLE, "app_password": "${secret:bsky}",
           "service": server.url, "timeout": 2}  # fmt: skip
    posts = social_client(avflow_harness, accounts={"sky": acc})
    avflow_harness.secret("bloom", "bsky", "abcd efgh ijkl")
    avflow_harness.clock.set("2026-03-16T09:30:00+01:00")
    yield server, posts
    server.shutdown()


def test_bluesky_takes_images_up_to_a_million_bytes(
    avflow_harness: Harness, pds: tuple[srv.Server, Path]
) -> None:
    h = avflow_harness
    server, posts = pds
    (posts / "media").mkdir()
    (posts / "media" / "ok.png").write_bytes(os.urandom(1_000_000))
    (posts / "media" / "big.png").write_bytes(os.urandom(1_000_001))
    for name in ("ok", "big"):
        write_post(
            posts,
            name,
            f"Post {name}",
            publish="2026-03-16 09:00",
            channels=["sky"],
            status="approved",
            media=[{"file": f"media/{name}.png", "alt": "Bread"}],
        )
    result = h.run("bloom/publish")
    assert result.status == "failed"
    assert "media 'media/big.png' is 1.0 MB, bluesky takes at most 1.0 MB a file" in result.error
    assert [e.key for e in result.effects] == ["ok:sky:r1"]
    uploads = [r for r in server.net.log if r.endswith("uploadBlob")]
    assert len(uploads) == 1  # only the image that fits was sent
