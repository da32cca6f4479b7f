"""``social.publish`` to the file outbox: approval, timing, several posts at once, exactly once."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from social_helpers import avflow_cli, social_client, write_post

from avflow.testing import Harness, SimulatedCrash, check_action_contract


def outbox(h: Harness, channel: str, client: str = "bloom") -> list[dict]:
    folder = h.workflows / client / "outbox" / channel
    return (
        [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        if folder.is_dir()
        else []
    )


def test_due_approved_post_goes_out_once_with_its_permalink(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    write_post(
        posts,
        "menu",
        "Spring menu is here.",
        publish="2026-03-16 09:30",
        channels=["news", "blog"],
        status="approved",
        title="Spring menu",
        slug="spring-menu",
        link="https://bloom.example/menu",
    )
    write_post(posts, "later", publish="2026-03-16 11:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T09:31:00+01:00")
    result = h.run("bloom/publish")
    assert result.ok, result.error
    out = result.outputs["publish"]["published"]
    assert [(p["post"], p["channel"]) for p in out] == [("menu", "news"), ("menu", "blog")]
    [news] = outbox(h, "news")
    assert (
        news["text"] == "Spring menu is here.\n\nhttps://bloom.example/menu"
        and news["key"] == "menu:news:r1"
    )
    assert out[0]["url"].startswith("file://") and out[0]["url"].endswith("menu--news.r1.json")
    notes = [r for r in result.audit if "published menu on news" in json.dumps(r)]
    assert notes and out[0]["url"] in json.dumps(notes[0])
    again = h.run("bloom/publish")
    assert again.ok and again.outputs["publish"]["published"] == [] and len(outbox(h, "news")) == 1
    h.clock.set("2026-03-16T11:00:00+01:00")
    third = h.run("bloom/publish")
    assert [p["post"] for p in third.outputs["publish"]["published"]] == ["later"]
    assert len(outbox(h, "news")) == 2


def test_several_posts_due_at_one_minute_all_go_out(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    for i in range(5):
        write_post(
            posts,
            f"p{i}",
            f"Post {i}",
            publish="2026-03-16 09:00",
            channels=["news"],
            status="approved",
        )
    h.clock.set("2026-03-16T09:00:00+01:00")
    result = h.run("bloom/publish")
    assert result.ok, result.error
    assert sorted(p["post"] for p in outbox(h, "news")) == [f"p{i}" for i in range(5)]


def test_only_approved_posts_go_out_and_an_edit_needs_approval_again(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    path = write_post(posts, "draft", "Hello", publish="2026-03-16 09:00", channels=["news"])
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("bloom/publish")
    assert result.ok and outbox(h, "news") == []
    assert result.outputs["publish"]["held"] == [{"post": "draft", "reason": "not approved"}]
    approved = avflow_cli(h, "social", "approve", "bloom", "draft")
    assert approved.returncode == 0, approved.stderr
    assert "status: approved" in path.read_text()
    path.write_text(path.read_text().replace("Hello", "Hello, edited after approval"))
    held = h.run("bloom/publish")
    assert held.outputs["publish"]["held"] == [{"post": "draft", "reason": "edited after approval"}]
    assert outbox(h, "news") == []
    assert avflow_cli(h, "social", "approve", "bloom", "draft").returncode == 0
    assert h.run("bloom/publish").ok
    assert [p["text"] for p in outbox(h, "news")] == ["Hello, edited after approval"]


def test_front_matter_approval_is_recorded_then_an_edit_is_held(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    path = write_post(
        posts,
        "future",
        "Tomorrow",
        publish="2026-03-17 09:00",
        channels=["news"],
        status="approved",
    )
    h.clock.set("2026-03-16T10:00:00+01:00")
    assert h.run("bloom/publish").ok  # seen approved: its content is recorded
    path.write_text(path.read_text().replace("Tomorrow", "Changed"))
    h.clock.set("2026-03-17T09:00:00+01:00")
    result = h.run("bloom/publish")
    assert result.outputs["publish"]["held"] == [
        {"post": "future", "reason": "edited after approval"}
    ]
    assert outbox(h, "news") == []


def test_quiet_window_defers_to_its_end_then_once(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(
        h,
        accounts={
            "news": {"type": "social_outbox", "folder": "outbox/news", "quiet": ["21:00-08:00"]}
        },
    )
    write_post(posts, "late", publish="2026-03-16 22:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T22:05:00+01:00")
    result = h.run("bloom/publish")
    assert result.outputs["publish"]["deferred"] == [
        {
            "post": "late",
            "channel": "news",
            "reason": "quiet window",
            "until": "2026-03-17T07:00:00+00:00",
        }
    ]
    h.clock.set("2026-03-17T07:59:00+01:00")
    assert h.run("bloom/publish").outputs["publish"]["published"] == []
    h.clock.set("2026-03-17T08:00:00+01:00")
    assert len(h.run("bloom/publish").outputs["publish"]["published"]) == 1
    assert len(h.run("bloom/publish").outputs["publish"]["published"]) == 0
    assert len(outbox(h, "news")) == 1


def test_daily_limit_holds_the_rest_until_tomorrow(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(
        h, accounts={"news": {"type": "social_outbox", "folder": "outbox/news", "daily_limit": 2}}
    )
    for i in range(3):
        write_post(
            posts,
            f"p{i}",
            f"Post {i}",
            publish=f"2026-03-16 09:0{i}",
            channels=["news"],
            status="approved",
        )
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("bloom/publish")
    assert [p["post"] for p in result.outputs["publish"]["published"]] == ["p0", "p1"]
    assert result.outputs["publish"]["deferred"][0]["until"] == "2026-03-16T23:00:00+00:00"
    h.clock.set("2026-03-17T00:00:00+01:00")
    assert [p["post"] for p in h.run("bloom/publish").outputs["publish"]["published"]] == ["p2"]


def test_broken_or_incomplete_posts_fail_the_step_and_the_others_go_out(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    (posts / "broken.md").write_text("---\npublish: 2026-03-16 09:00\nchannels: [news\n---\n")
    write_post(
        posts,
        "noalt",
        publish="2026-03-16 09:00",
        channels=["news"],
        status="approved",
        media=[{"file": "img.jpg"}],
    )
    (posts / "img.jpg").write_bytes(b"\xff\xd8jpeg")
    write_post(
        posts, "long", "x" * 281, publish="2026-03-16 09:00", channels=["news"], status="approved"
    )
    write_post(posts, "ok", publish="2026-03-16 09:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("bloom/publish")
    assert not result.ok
    assert "broken.md:4:1" in result.error and "has no alt text" in result.error
    assert "281 characters" in result.error
    assert [p["post"] for p in outbox(h, "news")] == ["ok"]


def test_media_are_copied_first_with_alt_text(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    (posts / "img").mkdir()
    (posts / "img" / "bun.jpg").write_bytes(b"\xff\xd8bun")
    write_post(
        posts,
        "bun",
        publish="2026-03-16 09:00",
        channels=["news"],
        status="approved",
        media=[{"file": "img/bun.jpg", "alt": "A cinnamon bun"}],
    )
    write_post(
        posts,
        "escape",
        publish="2026-03-16 09:00",
        channels=["news"],
        status="approved",
        media=[{"file": "../client.yaml", "alt": "x"}],
    )
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("bloom/publish")
    assert "outside the calendar folder" in (result.error or "")
    [bun] = outbox(h, "news")
    assert bun["media"][0]["alt"] == "A cinnamon bun" and bun["media"][0]["type"] == "image/jpeg"
    assert (
        h.workflows / "bloom" / "outbox" / "news" / bun["media"][0]["file"]
    ).read_bytes() == b"\xff\xd8bun"


def test_crash_after_posting_is_reconciled_not_repeated(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    for i in range(3):
        write_post(
            posts,
            f"p{i}",
            f"Post {i}",
            publish="2026-03-16 09:00",
            channels=["news", "blog"],
            status="approved",
        )
    h.clock.set("2026-03-16T10:00:00+01:00")
    h.crash_at(3, "after")
    with contextlib.suppress(SimulatedCrash):
        h.run("bloom/publish")
    h.resume()
    h.run("bloom/publish")
    assert sorted(p["post"] for p in outbox(h, "news")) == ["p0", "p1", "p2"]
    assert sorted(p["post"] for p in outbox(h, "blog")) == ["p0", "p1", "p2"]
    reconciled = [r for r in h.audit("bloom") if r.get("event") == "effect.reconciled"]
    assert reconciled and reconciled[0]["details"]["found"] is True


def test_contract(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    for i in range(2):
        write_post(posts, f"p{i}", publish="2026-03-16 09:00", channels=["news"], status="approved")
    h.clock.set("2026-03-16T10:00:00+01:00")

    def state() -> list[str]:
        return sorted(str(p) for p in (h.workflows / "bloom").rglob("*.json"))

    check_action_contract(h, "bloom/publish", remote_state=state)
    assert len(outbox(h, "news")) == 2


def test_paths_leading_out_are_refused_by_validate(avflow_harness: Harness) -> None:
    h = avflow_harness
    social_client(h, accounts={"news": {"type": "social_outbox", "folder": "../../elsewhere"}})
    h.client("other")
    out = avflow_cli(h, "validate")
    assert out.returncode == 2 and "client.yaml:" in out.stderr and "Traceback" not in out.stderr
    social_client(h, client="third")
    h.workflow("third", "publish", {"steps": [
        {"id": "publish", "uses": "social.publish", "with": {"calendar": "../other"}}
    ]})  # fmt: skip
    out = avflow_cli(h, "validate")
    assert out.returncode == 2 and "publish.yaml:" in out.stderr and "Traceback" not in out.stderr
