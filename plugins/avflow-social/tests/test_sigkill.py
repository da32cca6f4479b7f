"""SIGKILL of a real ``avflow`` process while it publishes ten posts to three channels (an outbox,
Mastodon, a webhook): after the restart each post exists exactly once on each channel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import social_server as srv
from social_helpers import social_client, write_post

from avflow.testing import Harness


def avflow(h: Harness, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "avflow",
        "--workflows",
        str(h.workflows),
        "--home",
        str(h.home),
        *args,
    ]


ENV = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}


def calendar(h: Harness, masto: srv.Server, hook: srv.Server) -> None:
    """Ten posts, each on an outbox, a webhook and Mastodon."""
    posts = social_client(h, accounts={
        "out": {"type": "social_outbox", "folder": "outbox"},
        "hook": {"type": "social_webhook", "url": f"{hook.url}/hook", "lookup_url": f"{hook.url}/hook/lookup",
                 "headers": {"Authorization": "${secret:hook}"}, "timeout": 30},
        "toot": {"type": "mastodon", "base_url": masto.url, "access_token": "${secret:masto}", "timeout": 30},
    })  # fmt: skip
    h.secret("bloom", "hook", "Bearer tok-123")
    h.secret("bloom", "masto", "tok-123")
    for i in range(10):
        write_post(posts, f"p{i}", f"Post number {i}", publish=f"2026-01-05 09:{i:02d}",
                   channels=["out", "hook", "toot"], status="approved")  # fmt: skip


@pytest.mark.parametrize("hang", ["mastodon", "webhook"])
def test_sigkill_while_publishing_then_restart(avflow_harness: Harness, hang: str) -> None:
    h = avflow_harness
    masto, hook = srv.Server(srv.mastodon), srv.Server(srv.webhook)
    calendar(h, masto, hook)
    server = masto if hang == "mastodon" else hook
    route = "POST /api/v1/statuses" if hang == "mastodon" else "POST /hook"
    # The 5th post on that network is accepted, and its answer never comes: killed meanwhile.
    hold = {"n": 0}
    app = server.app

    def holding(net, method, path, q, headers, body):  # type: ignore[no-untyped-def]
        answer = app(net, method, path, q, headers, body)
        if f"{method} {path}" == route and answer[0] < 300:
            hold["n"] += 1
            if hold["n"] == 5:
                time.sleep(120)
        return answer

    server.app = holding
    proc = subprocess.Popen(avflow(h, "trigger", "bloom/publish"), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 90
    while hold["n"] < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert hold["n"] == 5, proc.communicate(timeout=5) if proc.poll() is not None else "no 5th post"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    server.app = app  # the network answers again after the restart
    resumed = subprocess.run(
        avflow(h, "resume"), env=ENV, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = subprocess.run(
        avflow(h, "trigger", "bloom/publish"), env=ENV, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    want = {f"p{i}" for i in range(10)}
    toots = Counter(p["key"].split(":")[0] for p in masto.net.posts)
    hooks = Counter(p["post"] for p in hook.net.posts)
    outbox = Counter(
        json.loads(p.read_text())["post"] for p in (h.workflows / "bloom" / "outbox").glob("*.json")
    )
    assert set(toots) == set(hooks) == set(outbox) == want
    assert max(toots.values()) == max(hooks.values()) == max(outbox.values()) == 1
    reconciled = [r for r in h.audit("bloom") if r.get("event") == "effect.reconciled"]
    assert [r["effect"] for r in reconciled if r["details"]["found"]] == [
        f"p4:{'toot' if hang == 'mastodon' else 'hook'}:r1"
    ]
    # The killed pass's published rows (committed at the end of a pass) are written again from
    # the ledger: the queue shows every post published on every channel, with its permalink.
    queue = subprocess.run(avflow(h, "social", "queue", "bloom", "--all", "--json"), env=ENV,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert queue.returncode == 0, queue.stdout + queue.stderr
    rows = {r["post"]: r["channels"] for r in map(json.loads, queue.stdout.splitlines())}
    assert set(rows) == want
    assert all(url for channels in rows.values() for url in channels.values()), rows
    masto.shutdown()
    hook.shutdown()
