"""``social.publish``'s ``approval:``: a person confirms a pass's posts before they go out
(docs/social.md, "Asking before a pass").

A pass plans as without it (due, approved posts, not yet published, not deferred); when that
plan is not empty it asks through `avflow.StepContext.request_approval`, listing each post,
channel and time. The plan (each post and channel with the digest of the post's content) is
kept in the workflow's cursor under the run and step, and the approval's key is a digest of
it, so that when the step runs again (the decision come, a retry, a resume after a kill) it
publishes what was approved and only that: a post edited since the approval was asked, like
a post edited after ``avflow social approve``, is held back (the same content digest).
While an approval is undecided, the next passes of the workflow do not ask for its posts again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import avflow

if TYPE_CHECKING:
    from avflow_social.calendar import Post
    from avflow_social.checks import Channel
    from avflow_social.publish import Pass

# "RUN:STEP" -> {"key", "jobs": {job: digest}, "preview", "at", "outcome", "approval"}
CURSOR = "approvals"
KEEP = timedelta(days=30)  # a decided plan is kept this long (a retried step; a rejection)
# posts x channels asked for at once: every one of them is shown (the core shows 200 lines at
# most); the rest wait for the next pass, which asks for them
PER_APPROVAL = 100


def job(post: Post, ch: Channel) -> str:
    """A post on a channel at its revision: its ledger key (`avflow_social.publish._key`)."""
    return f"{post.id}:{ch.name}:r{post.revision}"


def _line(post: Post, ch: Channel, tz: Any) -> str:
    text = " ".join(post.text_for(ch.name).split())
    title = post.title or (text if len(text) <= 60 else text[:57] + "...")
    when = post.publish_at.astimezone(tz)
    return f"publish {title!r} ({post.id}) on {ch.name} at {when:%a %d %b %Y %H:%M} {when:%Z}"


def _plan(run: Pass, jobs: list[tuple[Post, Channel]]) -> dict[str, Any]:
    found = {job(p, ch): p.digest for p, ch in jobs}
    digest = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "key": f"posts:{digest}",
        "jobs": found,
        "preview": [_line(p, ch, run.ctx.client.tz) for p, ch in jobs],
        "at": run.now.isoformat(),
        "outcome": None,  # approve or reject, once decided
        "approval": None,  # its id
    }


def _save(ctx: Any, asked: dict[str, Any], now: Any) -> None:
    """Store the plans, without the decided ones older than `KEEP`."""
    from datetime import datetime

    kept = {
        k: v
        for k, v in asked.items()
        if not v.get("outcome") or datetime.fromisoformat(v["at"]) > now - KEEP
    }
    ctx.cursor.set(CURSOR, kept)


def gate(run: Pass, spec: avflow.ApprovalSpec) -> None:
    """Ask for the pass's planned posts (``run.jobs``), or find the plan asked for already;
    once approved, ``run.jobs`` keeps what was approved and is unchanged since. Raises the
    core's signals while nobody has decided, or when rejected."""
    ctx = run.ctx
    me = f"{ctx.run.id}:{ctx.step_id}"
    asked: dict[str, Any] = {} if ctx.dry_run else dict(ctx.cursor.get(CURSOR) or {})
    mine = asked.get(me)
    if mine is None:
        jobs = _not_asked_elsewhere(run, asked)
        if not jobs:
            return
        mine = asked[me] = _plan(run, jobs[:PER_APPROVAL])
        if not ctx.dry_run:
            _save(ctx, asked, run.now)
    posts = len({k.split(":", 1)[0] for k in mine["jobs"]})
    try:
        approval = ctx.request_approval(
            spec.summary or f"Publish {posts} post(s) for {ctx.client.name}?",
            preview=mine["preview"],
            timeout=spec.timeout,
            default=spec.default,
            key=mine["key"],
        )
    except avflow.ApprovalRejected as no:
        _decided(ctx, asked, me, "reject", no.approval.id, run.now)
        raise
    _decided(ctx, asked, me, "approve", approval.id, run.now)
    run.jobs = _approved(run, mine["jobs"], approval.id)


def _decided(ctx: Any, asked: dict[str, Any], me: str, outcome: str, id: str, now: Any) -> None:
    if not ctx.dry_run and not asked[me]["outcome"]:
        asked[me].update(outcome=outcome, approval=id)
        _save(ctx, asked, now)


def _not_asked_elsewhere(run: Pass, asked: dict[str, Any]) -> list[tuple[Post, Channel]]:
    """The planned jobs to ask for: not those another run of the workflow waits for a decision
    on (``waiting for approval``), nor those rejected as they are now (held back until the
    post is edited)."""
    waiting = {k for plan in asked.values() if not plan["outcome"] for k in plan["jobs"]}
    rejected = {
        (k, digest): plan["approval"]
        for plan in asked.values()
        if plan["outcome"] == "reject"
        for k, digest in plan["jobs"].items()
    }
    jobs = []
    for post, ch in run.jobs:
        no = rejected.get((job(post, ch), post.digest))
        if job(post, ch) in waiting or no:
            reason = f"rejected in approval {no}" if no else "waiting for approval"
            run.held.append({"post": post.id, "channel": ch.name, "reason": reason})
        else:
            jobs.append((post, ch))
    run.jobs = jobs
    return jobs


def _approved(run: Pass, approved: dict[str, str], approval: str) -> list[tuple[Post, Channel]]:
    """The jobs approved, with the content they had when the approval was asked."""
    kept = []
    for post, ch in run.jobs:
        digest = approved.get(job(post, ch))
        if digest is None:
            reason = f"not in approval {approval} (the next pass asks)"
        elif digest != post.digest:
            reason = f"edited after approval {approval} was asked"
        else:
            kept.append((post, ch))
            continue
        run.held.append({"post": post.id, "channel": ch.name, "reason": reason})
    return kept
