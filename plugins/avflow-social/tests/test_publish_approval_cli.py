"""``social.publish`` with ``approval:`` against the local Mastodon and webhook stand-ins and the
outbox, decided from the command line; the service SIGKILLed while the run waits."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
import social_server as srv
from social_helpers import social_client, write_post

from avflow.testing import Harness, ServiceProcess

APPROVAL = {"summary": "Publish today's posts?", "timeout": "4h", "default": "reject"}


@pytest.fixture
def nets() -> Iterator[tuple[srv.Server, srv.Server]]:
    masto, hook = srv.Server(srv.mastodon), srv.Server(srv.webhook)
    yield masto, hook
    masto.shutdown()
    hook.shutdown()


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for svc in started:
        svc.kill()


def project(
    h: Harness, masto: srv.Server, hook: srv.Server, on: dict | None = None, day: str = "2026-12-04"
) -> None:
    posts = social_client(h, accounts={
        "out": {"type": "social_outbox", "folder": "outbox"},
        "hook": {"type": "social_webhook", "url": f"{hook.url}/hook",
                 "lookup_url": f"{hook.url}/hook/lookup",
                 "headers": {"Authorization": "${secret:hook}"}},
        "toot": {"type": "mastodon", "base_url": masto.url, "access_token": "${secret:masto}"},
    })  # fmt: skip
    h.secret("bloom", "hook", "Bearer tok-123")
    h.secret("bloom", "masto", "tok-123")
    step = {"id": "publish", "uses": "social.publish", "with": {"approval": APPROVAL}}
    h.workflow("bloom", "publish", {**({"on": on} if on else {}), "steps": [step]})
    for i in range(2):
        write_post(posts, f"p{i}", f"Post number {i}", publish=f"{day} 08:{i:02d}",
                   channels=["out", "hook", "toot"], status="approved")  # fmt: skip


def published(h: Harness, masto: srv.Server, hook: srv.Server) -> list[Counter[str]]:
    outbox = h.workflows / "bloom" / "outbox"
    files = [json.loads(p.read_text())["post"] for p in outbox.glob("*.json")]
    toots = [str(p["key"]).split(":")[0] for p in masto.net.posts]
    return [Counter(files), Counter(str(p["post"]) for p in hook.net.posts), Counter(toots)]


def pending_id(h: Harness) -> str:
    listed = h.command("approvals", "bloom", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    return str(row["id"])


def test_sigkill_while_waiting_then_approve_publishes_once(
    avflow_harness: Harness, nets: tuple[srv.Server, srv.Server], services: list[ServiceProcess]
) -> None:
    h = avflow_harness
    masto, hook = nets
    project(h, masto, hook, on={"schedule": [{"cron": "0 9 * * *"}]})
    first = h.service(start="2026-12-04T07:59:58Z")  # 08:59:58 in Rome
    services.append(first)
    first.wait_log("run waiting for an approval")
    listed = h.command("approvals", "bloom")
    assert listed.returncode == 0, listed.stderr
    assert "Publish today's posts?" in listed.stdout
    assert "publish 'Post number 1' (p1) on toot at Fri 04 Dec 2026 08:01 CET" in listed.stdout
    assert published(h, masto, hook) == [Counter(), Counter(), Counter()]
    approval = pending_id(h)
    first.proc.kill()  # SIGKILL between the request and the decision
    assert first.proc.wait(10) == -9

    second = h.service(start="2026-12-04T08:05:00Z")
    services.append(second)
    second.wait_log("service started")
    assert pending_id(h) == approval
    approved = h.command("approve", approval, "--reason", "looks good")
    assert approved.returncode == 0, approved.stderr
    assert "the running service takes the run up" in approved.stdout
    second.wait_log("run finished", status="succeeded")
    once = Counter({"p0": 1, "p1": 1})
    assert published(h, masto, hook) == [once, once, once]
    again = h.command("approve", approval)
    assert again.returncode == 2 and "already approved" in again.stderr
    second.proc.terminate()
    assert second.proc.wait(120) == 0
    queue = h.command("social", "queue", "bloom", "--all", "--json")
    rows = {r["post"]: r["channels"] for r in map(json.loads, queue.stdout.splitlines())}
    assert all(url for channels in rows.values() for url in channels.values()), rows
    assert published(h, masto, hook) == [once, once, once]


def test_reject_from_the_cli_publishes_nothing(
    avflow_harness: Harness, nets: tuple[srv.Server, srv.Server]
) -> None:
    h = avflow_harness
    masto, hook = nets
    project(h, masto, hook, day="2026-12-01")  # due by the real clock
    asked = h.command("trigger", "bloom/publish")
    assert "waiting" in asked.stdout + asked.stderr, asked.stdout + asked.stderr
    approval = pending_id(h)
    rejected = h.command("reject", approval, "--reason", "not today")
    assert rejected.returncode == 0, rejected.stderr
    assert "rejected" in rejected.stdout
    assert published(h, masto, hook) == [Counter(), Counter(), Counter()]
    nxt = h.command("trigger", "bloom/publish")  # not asked again
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert "no approvals waiting" in h.command("approvals", "bloom").stdout
    assert published(h, masto, hook) == [Counter(), Counter(), Counter()]
