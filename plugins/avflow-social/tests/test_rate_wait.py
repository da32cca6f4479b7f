"""A network's 429 asking for an absurd wait: infinite, 10^30 seconds, a year, the year 9999.
The channel waits 24 hours at most; the pass goes on (an OverflowError ended it, and a year's
wait, kept across runs, silenced the channel for that long)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_providers import Net, net, publish  # noqa: F401

from avflow.testing import Harness

WAITS = ["inf", "1e30", "31536000", "Fri, 31 Dec 9999 23:59:59 GMT"]


def _fail(net: Net, value: str) -> None:  # noqa: F811
    headers = {"Retry-After": value}
    if net.name == "mastodon":  # Mastodon says when its window resets instead
        reset = "9999-12-31T23:59:59+00:00" if not value.isdigit() else None
        headers = {"Retry-After": value if value.isdigit() else "30"}
        if reset:
            headers["X-RateLimit-Reset"] = reset
    net.server.net.fail(net.create, (429, headers))


@pytest.mark.parametrize("value", WAITS)
def test_a_huge_wait_is_honoured_for_a_day_at_most(
    avflow_harness: Harness,
    net: Net,  # noqa: F811
    value: str,
) -> None:
    h = avflow_harness
    _fail(net, value)
    first = publish(h)
    assert first.ok, first.error  # before: OverflowError for inf and 1e30
    [deferred] = first.outputs["publish"]["deferred"]
    until = datetime.fromisoformat(deferred["until"])
    assert deferred["reason"] == "rate limited" and net.posts == []
    assert until - h.clock.now() <= timedelta(hours=24)  # before: a year, or the year 9999
    h.clock.advance(seconds=24 * 3600 + 1)
    again = publish(h)
    assert [p["post"] for p in again.outputs["publish"]["published"]] == ["menu"], again.error
    assert len(net.posts) == 1
