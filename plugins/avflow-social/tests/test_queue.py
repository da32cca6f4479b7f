"""``avflow social queue``: what goes out where and when, and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from social_helpers import avflow_cli, social_client, write_post

from avflow.testing import Harness


def rows(h: Harness, *args: str) -> dict[str, dict]:
    out = avflow_cli(h, "social", "queue", "bloom", "--json", *args)
    assert out.returncode in (0, 1), out.stderr
    return {r["post"]: r for r in map(json.loads, out.stdout.splitlines())}


def test_queue_flags_each_kind_of_problem(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(
        h,
        accounts={
            "news": {
                "type": "social_outbox",
                "folder": "outbox/news",
                "max_chars": 20,
                "min_gap": 60,
            },
            "blog": {"type": "social_outbox", "folder": "outbox/blog"},
        },
    )
    (posts / "a.jpg").write_bytes(b"jpg")
    write_post(
        posts, "long", "x" * 21, publish="2026-03-20 09:00", channels=["news"], status="approved"
    )
    write_post(
        posts, "close", "short", publish="2026-03-20 09:30", channels=["news"], status="approved"
    )
    write_post(
        posts,
        "noalt",
        "ok",
        publish="2026-03-21 09:00",
        channels=["blog"],
        status="approved",
        media=[{"file": "a.jpg"}],
    )
    write_post(
        posts,
        "nomedia",
        "ok",
        publish="2026-03-22 09:00",
        channels=["blog"],
        status="approved",
        media=[{"file": "gone.jpg", "alt": "gone"}],
    )
    write_post(posts, "draftsoon", "ok", publish="2026-03-20 12:00", channels=["blog"])
    write_post(posts, "draftlater", "ok", publish="2026-04-20 12:00", channels=["blog"])
    write_post(
        posts, "where", "ok", publish="2026-04-20 12:00", channels=["tiktok"], status="approved"
    )
    write_post(
        posts,
        "fine",
        "ok",
        publish="2026-04-21 12:00",
        channels=["news", "blog"],
        status="approved",
    )
    r = rows(h, "--at", "2026-03-20 08:00")
    msgs = {k: [p["message"] for p in v["problems"]] for k, v in r.items()}
    assert msgs["long"] == ["text is 21 characters, social_outbox allows 20"]
    assert msgs["close"] == ["30 min after long on news (min_gap 60)"]
    assert msgs["noalt"] == ["media 'a.jpg' has no alt text"]
    assert msgs["nomedia"] == ["media 'gone.jpg' is missing"]
    assert msgs["draftsoon"] == ["not approved and is due 2026-03-20 12:00"]
    assert "draftlater" not in r or msgs["draftlater"] == []
    assert msgs["where"] == ["unknown channel 'tiktok' (social accounts: blog, news)"]
    assert msgs.get("fine", []) == []
    body_line = (posts / "long.md").read_text().splitlines().index("x" * 21) + 1
    assert r["long"]["publish"] == "2026-03-20 09:00 CET"
    assert r["long"]["problems"][0]["where"].endswith(f"long.md:{body_line}")


def test_queue_text_output_is_for_people(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    write_post(
        posts, "menu", publish="2026-07-01 09:00", channels=["news", "blog"], status="approved"
    )
    out = avflow_cli(h, "social", "queue", "bloom")
    assert out.returncode == 0, out.stderr
    assert "2026-07-01 09:00 CEST  menu  [approved]  news, blog" in out.stdout
    assert "1 post(s), 0 unreadable" in out.stdout


def test_broken_front_matter_is_one_line_exit_2(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    (posts / "bad.md").write_text("---\npublish: 2026-03-20 09:00\nchannels: news]\n  x: 1\n---\n")
    out = avflow_cli(h, "social", "queue", "bloom")
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert line.startswith(f"{posts / 'bad.md'}:4:") and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        # PyYAML would have kept the last one silently
        ("name: Bloom\ntimezone: Europe/Rome\ntimezone: Europe/Paris\n", "3:1", "duplicate key"),
        ("name: Bloom\ntimezone: Europe/Rome\naccounts:\n  news: {type: x, folder: [x}\n", "4:",
         "YAML syntax error"),
    ],
)  # fmt: skip
def test_a_broken_profile_is_its_file_line_column_exit_2(
    avflow_harness: Harness, posts: Path, text: str, where: str, message: str
) -> None:
    profile = avflow_harness.workflows / "bloom" / "client.yaml"
    profile.write_text(text)
    out = avflow_cli(avflow_harness, "social", "queue", "bloom")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    [error] = out.stderr.splitlines()
    assert error.startswith(f"{profile}:{where}") and message in error, error


def test_unknown_client_and_post_are_usage_errors(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    out = avflow_cli(h, "social", "queue", "nobody")
    assert out.returncode == 2 and "unknown client" in out.stderr and "Traceback" not in out.stderr
    out = avflow_cli(h, "social", "approve", "bloom", "nope")
    assert out.returncode == 2 and "no post nope" in out.stderr
    out = avflow_cli(h, "social", "queue", "bloom", "--calendar", "../..")
    assert out.returncode == 2 and "outside the client's folder" in out.stderr


def test_client_ids_follow_the_core_rule(avflow_harness: Harness, posts: Path) -> None:
    """A linked client folder or an id the core refuses never reaches the queue's fast path."""
    h = avflow_harness
    (h.workflows / "bloom.x").mkdir()
    (h.workflows / "bloom.x" / "client.yaml").write_text("name: X\ntimezone: Europe/Rome\n")
    (h.workflows / "twin").symlink_to(h.workflows / "bloom")
    for client in ("bloom.x", "twin"):
        out = avflow_cli(h, "social", "queue", client)
        assert out.returncode == 2, (client, out.stdout, out.stderr)
        assert client in out.stderr and "Traceback" not in out.stderr
