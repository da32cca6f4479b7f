"""Time zones and gating: closed days and quiet windows defer a post to the next allowed time,
once; posts across a DST change go out at the wall-clock time written."""

from __future__ import annotations

from social_helpers import social_client, write_post

from avflow.testing import Harness


def published(h: Harness) -> list[str]:
    result = h.run("bloom/publish")
    assert result.ok, result.error
    return [p["post"] for p in result.outputs["publish"]["published"]]


def test_posts_across_dst_go_out_at_the_wall_clock_time(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(h, tz="Europe/Rome")  # 29 March 2026: 02:00 CET -> 03:00 CEST
    write_post(posts, "sat", publish="2026-03-28 09:00", channels=["blog"], status="approved")
    write_post(posts, "gap", publish="2026-03-29 02:30", channels=["blog"], status="approved")
    write_post(posts, "sun", publish="2026-03-29 09:00", channels=["blog"], status="approved")
    h.clock.set("2026-03-28T07:59:00Z")
    assert published(h) == []
    h.clock.set("2026-03-28T08:00:00Z")  # 09:00 CET
    assert published(h) == ["sat"]
    h.clock.set("2026-03-29T00:59:00Z")
    assert published(h) == []
    h.clock.set("2026-03-29T01:00:00Z")  # 03:00 CEST: the first instant after the gap
    assert published(h) == ["gap"]
    h.clock.set("2026-03-29T06:59:00Z")
    assert published(h) == []
    h.clock.set("2026-03-29T07:00:00Z")  # 09:00 CEST, an hour earlier in UTC than the day before
    assert published(h) == ["sun"]


def test_autumn_repeated_hour_goes_out_once(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(h, tz="America/New_York")  # 1 November 2026: 01:00-02:00 twice
    write_post(posts, "twice", publish="2026-11-01 01:30", channels=["blog"], status="approved")
    h.clock.set("2026-11-01T05:29:00Z")
    assert published(h) == []
    h.clock.set("2026-11-01T05:30:00Z")  # 01:30 EDT, the first one
    assert published(h) == ["twice"]
    h.clock.set("2026-11-01T06:30:00Z")  # 01:30 EST, the second one
    assert published(h) == []


def test_closed_day_defers_to_the_next_opening_once(avflow_harness: Harness) -> None:
    h = avflow_harness
    posts = social_client(
        h, tz="America/New_York", working_hours={"mon-fri": "09:00-17:00"}, holidays="US",
    )  # fmt: skip
    h.workflow("bloom", "publish", {"steps": [
        {"id": "publish", "uses": "social.publish", "with": {"when": "working_hours"}}
    ]})  # fmt: skip
    # Saturday 4 July 2026 (a holiday, observed Friday 3 July); Monday 6 July is the next opening.
    write_post(posts, "weekend", publish="2026-07-02 18:00", channels=["blog"], status="approved")
    h.clock.set("2026-07-02T22:30:00Z")  # Thursday 18:30 EDT: after hours
    first = h.run("bloom/publish")
    assert first.outputs["publish"]["deferred"] == [{
        "post": "weekend", "channel": "blog", "reason": "outside working hours",
        "until": "2026-07-06T13:00:00+00:00",
    }]  # fmt: skip
    h.clock.set("2026-07-03T14:00:00Z")  # Friday 10:00, the observed holiday
    assert published(h) == []
    h.clock.set("2026-07-06T13:00:00Z")  # Monday 09:00 EDT
    assert published(h) == ["weekend"]
    assert published(h) == []
