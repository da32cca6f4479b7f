"""``social.publish`` with ``approval:``: a person confirms a pass's posts (through the public
``ctx.request_approval``); approved, exactly those posts go out, once; rejected, none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from social_helpers import avflow_cli, write_post

from avflow.testing import Harness, SimulatedCrash

APPROVAL = {"summary": "Publish this week's posts?", "timeout": "4h", "default": "reject"}


def gated(h: Harness, approval: object = APPROVAL) -> str:
    step = {"id": "publish", "uses": "social.publish", "with": {"approval": approval}}
    h.workflow("bloom", "publish", {"steps": [step]})
    return "bloom/publish"


def outbox(h: Harness) -> list[str]:
    folder = h.workflows / "bloom" / "outbox"
    return sorted(json.loads(p.read_text())["key"] for p in folder.rglob("*.json"))


def two_posts(posts: Path) -> None:
    write_post(posts, "menu", "Spring menu is here.", publish="2026-03-16 09:30",
               channels=["news", "blog"], status="approved", title="Spring menu")  # fmt: skip
    write_post(posts, "bread", "Fresh bread today.", publish="2026-03-16 09:00",
               channels=["news"], status="approved")  # fmt: skip
    write_post(posts, "later", publish="2026-03-20 09:00", channels=["news"], status="approved")


def test_approved_publishes_what_was_shown_once(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    waiting = h.run(ref)
    assert waiting.status == "waiting", waiting.error
    assert outbox(h) == []
    [asked] = h.approvals("bloom")
    assert asked.summary == "Publish this week's posts?"
    assert asked.preview == [
        "publish 'Fresh bread today.' (bread) on news at Mon 16 Mar 2026 09:00 CET",
        "publish 'Spring menu' (menu) on news at Mon 16 Mar 2026 09:30 CET",
        "publish 'Spring menu' (menu) on blog at Mon 16 Mar 2026 09:30 CET",
    ]
    done = h.decide(asked.id, by="client")
    assert done is not None and done.status == "succeeded", done and done.error
    assert outbox(h) == ["bread:news:r1", "menu:blog:r1", "menu:news:r1"]
    again = h.run(ref)  # nothing left to publish: nobody is asked
    assert again.status == "succeeded" and again.outputs["publish"]["published"] == []
    assert h.approvals("bloom") == [] and len(outbox(h)) == 3


def test_only_what_is_shown_is_approved(
    avflow_harness: Harness, posts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass with more posts than one approval shows asks for the first ones only; the others
    are not published on it (they are asked for by the next pass)."""
    from avflow_social import approval

    monkeypatch.setattr(approval, "PER_APPROVAL", 2)
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    assert len(asked.preview) == 2 and "(menu) on blog" not in asked.preview[1]
    done = h.decide(asked.id, by="client")
    assert done is not None and done.status == "succeeded", done and done.error
    assert outbox(h) == ["bread:news:r1", "menu:news:r1"]
    held = {(x["post"], x["channel"]): x["reason"] for x in done.outputs["publish"]["held"]}
    assert held[("menu", "blog")] == f"not in approval {asked.id} (the next pass asks)"
    assert h.run(ref).status == "waiting"
    [rest] = h.approvals("bloom")
    assert rest.preview == ["publish 'Spring menu' (menu) on blog at Mon 16 Mar 2026 09:30 CET"]
    h.decide(rest.id)
    assert outbox(h) == ["bread:news:r1", "menu:blog:r1", "menu:news:r1"]


def test_short_form_words_the_summary(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    ref = gated(h, True)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    assert asked.summary == "Publish 2 post(s) for Bloom?" and asked.deadline is None


def test_nothing_due_asks_nobody(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T08:00:00+01:00")
    result = h.run(ref)
    assert result.status == "succeeded" and h.approvals("bloom") == []


def test_rejected_publishes_nothing_and_is_not_asked_again(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    done = h.decide(asked.id, approve=False, reason="wrong price")
    assert done is not None and done.status == "rejected" and outbox(h) == []
    nxt = h.run(ref)  # the next pass: the rejected posts, unchanged, are held back
    assert nxt.status == "succeeded" and h.approvals("bloom") == [] and outbox(h) == []
    held = {(x["post"], x["channel"]): x["reason"] for x in nxt.outputs["publish"]["held"]}
    assert held[("bread", "news")] == f"rejected in approval {asked.id}"
    # edited (and approved again in the calendar), the post is asked for again
    write_post(posts, "bread", "Fresh rye bread today.", publish="2026-03-16 09:00",
               channels=["news"], status="approved")  # fmt: skip
    assert avflow_cli(h, "social", "approve", "bloom", "bread").returncode == 0
    assert h.run(ref).status == "waiting"
    [again] = h.approvals("bloom")
    assert again.preview == [
        "publish 'Fresh rye bread today.' (bread) on news at Mon 16 Mar 2026 09:00 CET"
    ]


def test_post_edited_after_the_approval_was_asked_is_held(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    # the AV edits 'bread' and approves it again in the calendar, while the approval waits
    write_post(posts, "bread", "Fresh bread, and cake.", publish="2026-03-16 09:00",
               channels=["news"], status="approved")  # fmt: skip
    assert avflow_cli(h, "social", "approve", "bloom", "bread").returncode == 0
    done = h.decide(asked.id)
    assert done is not None and done.status == "succeeded", done and done.error
    assert outbox(h) == ["menu:blog:r1", "menu:news:r1"]  # not the edited post
    held = done.outputs["publish"]["held"]
    assert {"post": "bread", "channel": "news",
            "reason": f"edited after approval {asked.id} was asked"} in held  # fmt: skip
    assert h.run(ref).status == "waiting"  # the edited post is asked for on its own
    [second] = h.approvals("bloom")
    assert second.preview == [
        "publish 'Fresh bread, and cake.' (bread) on news at Mon 16 Mar 2026 09:00 CET"
    ]
    assert h.decide(second.id) is not None
    assert outbox(h) == ["bread:news:r1", "menu:blog:r1", "menu:news:r1"]


def test_passes_while_waiting_do_not_ask_again(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    h.clock.set("2026-03-20T09:15:00+01:00")  # 'later' is due now too
    nxt = h.run(ref)
    assert nxt.status == "waiting"  # 'later' alone is asked for
    assert [a.id == asked.id for a in h.approvals("bloom")] == [True, False]
    newer = h.approvals("bloom")[1]
    assert [line.split(" (")[1].split(")")[0] for line in newer.preview] == ["later"]
    done = h.decide(asked.id)  # what the first approval showed, and only that
    assert done is not None and done.status == "succeeded", done and done.error
    assert outbox(h) == ["bread:news:r1", "menu:blog:r1", "menu:news:r1"]


def test_crash_after_approval_resumes_and_publishes_each_once(
    avflow_harness: Harness, posts: Path
) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("bloom")
    h.crash_at(2, "after")  # the second post written, the process dead before it is recorded
    with pytest.raises(SimulatedCrash):
        h.decide(asked.id)
    [resumed] = h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert outbox(h) == ["bread:news:r1", "menu:blog:r1", "menu:news:r1"]
    assert h.approvals("bloom") == []


def test_dry_run_does_not_wait(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    ref = gated(h)
    two_posts(posts)
    h.clock.set("2026-03-16T09:31:00+01:00")
    dry = h.run(ref, dry_run=True)
    assert dry.status == "succeeded", dry.error
    assert len(dry.outputs["publish"]["published"]) == 3 and outbox(h) == []
    assert h.approvals("bloom") == []
    assert any("would ask for approval" in (r.get("description") or "") for r in dry.audit)


def test_validate_names_the_line(avflow_harness: Harness, posts: Path) -> None:
    h = avflow_harness
    gated(h, {"timeout": "2h", "default": "later"})
    done = avflow_cli(h, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = [x for x in done.stderr.splitlines() if "publish.yaml:" in x]
    assert "approval.default" in line and "Traceback" not in done.stderr
