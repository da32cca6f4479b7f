"""A 2xx answer to a post that is not the network's (a proxy's, a server misconfigured): the
post is looked up and sent if it is not there, never recorded as published on faith. LinkedIn
(no x-restli-id) and Mastodon (no status id) recorded it published with an empty permalink,
and it was never made."""

from __future__ import annotations

import pytest
from test_providers import Net, net, publish  # noqa: F401

from avflow.testing import Harness


@pytest.mark.parametrize("code", [200, 201])
def test_a_success_without_the_post_is_not_taken_on_faith(
    avflow_harness: Harness,
    net: Net,  # noqa: F811
    code: int,
) -> None:
    net.server.net.fail(net.create, (code, {}))  # {"error": "scripted ..."}: no post made
    result = publish(avflow_harness)
    assert result.ok, result.error
    [out] = result.outputs["publish"]["published"]
    if net.name == "webhook":
        # a webhook's receiver owns the post: its 2xx is the acceptance (docs/social.md)
        assert out["id"] == "menu:ch:r1"
        return
    assert len(net.posts) == 1  # looked up, not there, sent once
    assert out["url"] and not out["url"].endswith("//") and out["id"] not in ("", "None")
