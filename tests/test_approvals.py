"""Approvals: ``core.approval`` stops a run durably; approve continues it, reject stops it."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent))

from approvals_testkit import performed, setup_post, the_only_pending

import avflow
from avflow import approvals
from avflow.approval_store import ApprovalStore
from avflow.audit.report import build
from avflow.errors import UsageError
from avflow.testing import Harness

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"


def test_approve_continues_the_run_and_the_effect_happens_once(
    harness: Harness, tmp_path: Path
) -> None:
    out = setup_post(harness, tmp_path)
    first = harness.run("acme/post")
    assert first.status == "waiting"
    assert first.steps == {"draft": "succeeded", "check": "waiting"}
    assert performed(out) == []
    pending = the_only_pending(harness)
    assert pending.summary == "Publish 'Winter sale'?"
    assert pending.preview == ["write post1.txt", "write post2.txt"]  # from a dry run
    assert pending.status == "pending" and pending.run_id == first.id
    assert len(pending.id) >= 8 and pending.created_at.tzinfo is not None
    assert approvals.count_pending(harness.app) == 1
    assert not list(out.glob("*.txt")), "the preview performed something"

    decided = approvals.decide(harness.app, pending.id, approve=True, by="maria")
    assert decided.status == "approved" and decided.decided_by == "maria"
    assert approvals.count_pending(harness.app) == 0
    engine = harness.app.engine
    wf = harness.find("acme/post")
    outcome = engine.resume_waiting(wf, pending.id)
    assert outcome is not None and outcome.status == "succeeded", outcome
    assert outcome.outputs["check"]["approved"] is True
    assert outcome.outputs["check"]["decided_by"] == "maria"
    assert performed(out) == ["post1.txt", "post2.txt"]
    assert engine.resume_waiting(wf, pending.id) is None, "a decision resumes its run once"
    assert harness.run("acme/post").status == "waiting"  # a new run asks again
    assert performed(out) == ["post1.txt", "post2.txt"]


def test_reject_stops_the_run_as_rejected(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path)
    run = harness.run("acme/post")
    pending = the_only_pending(harness)
    approvals.decide(harness.app, pending.id, approve=False, by="maria", reason="wrong price")
    outcome = harness.app.engine.resume_waiting(harness.find("acme/post"), pending.id)
    assert outcome is not None
    assert outcome.status == "rejected"
    assert outcome.steps["check"] == "rejected"
    assert "publish" not in outcome.steps
    assert "wrong price" in (outcome.error or "")
    assert performed(out) == []
    row = harness.app.state.run_by_id(run.id)
    assert row is not None and row["status"] == "rejected" and row["finished_at"]
    harness.app.audit.sync()
    month = harness.clock.now().strftime("%Y-%m")
    report = build(harness.home / "audit" / "acme", "acme", "Acme", "Europe/Rome", month)
    [summary] = report.workflows
    assert (summary.runs, summary.succeeded, summary.failed) == (1, 0, 0)  # rejected: no failure


def test_deciding_twice_or_an_unknown_id_is_a_one_line_error(
    harness: Harness, tmp_path: Path
) -> None:
    setup_post(harness, tmp_path)
    harness.run("acme/post")
    pending = the_only_pending(harness)
    approvals.decide(harness.app, pending.id, approve=True, by="maria")
    with pytest.raises(UsageError, match="already approved by maria") as twice:
        approvals.decide(harness.app, pending.id, approve=False, by="luca")
    assert "\n" not in str(twice.value)
    assert approvals.get(harness.app, pending.id).status == "approved"
    with pytest.raises(UsageError, match="no approval 'nope'"):
        approvals.get(harness.app, "nope")
    with pytest.raises(UsageError, match="no approval"):
        approvals.decide(harness.app, "nope", approve=True, by="maria")


def test_another_clients_approval_is_refused_as_unknown(harness: Harness, tmp_path: Path) -> None:
    setup_post(harness, tmp_path, "acme")
    setup_post(harness, tmp_path, "bolt")
    harness.run("acme/post")
    harness.run("bolt/post")
    acme = the_only_pending(harness, "acme")
    bolt = the_only_pending(harness, "bolt")
    assert approvals.count_pending(harness.app) == 2
    assert approvals.pending_counts(harness.app) == {"acme": 1, "bolt": 1}
    with pytest.raises(UsageError) as leak:
        approvals.decide(harness.app, acme.id, approve=True, by="bolt-user", client="bolt")
    with pytest.raises(UsageError) as unknown:
        approvals.decide(harness.app, "zzzzzzzzzz", approve=True, by="bolt-user", client="bolt")
    assert str(leak.value).replace(acme.id, "ID") == str(unknown.value).replace("zzzzzzzzzz", "ID")
    with pytest.raises(UsageError):
        approvals.get(harness.app, acme.id, client="bolt")
    assert approvals.get(harness.app, acme.id).status == "pending"
    assert approvals.decide(harness.app, bolt.id, approve=True, by="b", client="bolt").approved


def test_pending_is_paginated_oldest_first(harness: Harness, tmp_path: Path) -> None:
    setup_post(harness, tmp_path)
    for _ in range(5):
        harness.clock.advance(60)
        harness.run("acme/post")
    everything = approvals.pending(harness.app, "acme")
    assert len(everything) == 5
    assert [a.created_at for a in everything] == sorted(a.created_at for a in everything)
    page = approvals.pending(harness.app, "acme", limit=2, offset=2)
    assert [a.id for a in page] == [a.id for a in everything[2:4]]
    assert approvals.pending(harness.app, "other") == []
    assert approvals.count_pending(harness.app, "acme") == 5


def test_the_audit_trail_records_request_decider_and_preview(
    harness: Harness, tmp_path: Path
) -> None:
    setup_post(harness, tmp_path)
    harness.run("acme/post")
    pending = the_only_pending(harness)
    approvals.decide(harness.app, pending.id, approve=True, by="maria", reason="looks right")
    harness.app.engine.resume_waiting(harness.find("acme/post"), pending.id)
    records = harness.audit("acme")
    events = [r["event"] for r in records]
    assert events.index("approval.requested") < events.index("run.waiting")
    assert events.index("approval.decided") < events.index("run.resumed")
    decided = next(r for r in records if r["event"] == "approval.decided")
    assert decided["details"]["by"] == "maria"
    assert decided["details"]["decision"] == "approve"
    assert decided["details"]["reason"] == "looks right"
    assert decided["details"]["summary"] == "Publish 'Winter sale'?"
    assert decided["details"]["preview"] == ["write post1.txt", "write post2.txt"]
    assert decided["step"] == "check" and decided["run"] == pending.run_id
    assert [e for e in events if e.startswith("effect.")].count("effect.done") == 2
    assert not any(e == "effect.dry_run" for e in events), "the preview went into the trail"


def test_a_dry_run_does_not_wait(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path)
    dry = harness.run("acme/post", dry_run=True)
    assert dry.status == "succeeded"
    assert [e.description for e in dry.effects] == ["write post1.txt", "write post2.txt"]
    assert approvals.count_pending(harness.app) == 0
    assert performed(out) == []


def test_a_default_without_a_timeout_is_refused_at_load(harness: Harness, tmp_path: Path) -> None:
    setup_post(harness, tmp_path, default="approve")
    _project, errors = harness.app.load()
    assert errors and "default needs a timeout" in str(errors[0])


class AskParams(BaseModel):
    folder: str


def _ask_then_write(ctx: avflow.StepContext, params: AskParams) -> dict[str, Any]:
    """A plugin's step: one effect, then an approval, then another effect."""
    folder = Path(params.folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "performed.log"

    def write(name: str) -> Any:
        def perform() -> str:
            with log.open("a") as f:
                f.write(name + "\n")
            return name

        return ctx.effect(name, f"write {name}", perform)

    write("before")
    try:
        approval = ctx.request_approval(
            "Write the rest?",
            preview=["write after (asked by the plugin)", "x" * 5000],
            key="rest",
        )
    except Exception:  # a careless plugin: the signal must not be swallowed here
        return {"swallowed": True}
    write("after")
    return {"by": approval.decided_by}


class AskPlugin:
    @avflow.hookimpl
    def register_actions(self, register: Any) -> None:
        register(avflow.Action("ask.write", AskParams, _ask_then_write))


def test_a_plugin_asks_through_the_step_context(tmp_path: Path) -> None:
    from avflow.plugins import PluginManager

    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS_DIR], extra=[("ask", AskPlugin())])
    h = Harness(tmp_path, pm=pm)
    out = tmp_path / "out"
    h.client("acme", timezone="Europe/Rome")
    h.workflow(
        "acme",
        "ask",
        {
            "steps": [
                {"id": "ask", "uses": "ask.write", "with": {"folder": str(out)}},
                {
                    "id": "more",
                    "uses": "crashy.write",
                    "with": {"folder": str(out), "count": 1, "prefix": "more"},
                },
            ]
        },
    )
    run = h.run("acme/ask")
    assert run.status == "waiting" and run.steps["ask"] == "waiting"
    assert performed(out) == ["before"]
    [pending] = h.approvals()
    long = "x" * 997 + "..."  # a line is cut at 1,000 characters
    assert pending.preview == ["write after (asked by the plugin)", long, "write more1.txt"]
    done = h.decide(pending.id, approve=True, by="maria")  # as the service would take it up
    assert done is not None and done.status == "succeeded", done
    assert [r["event"] for r in done.audit].count("approval.decided") == 1
    assert done.outputs["ask"] == {"by": "maria"}
    assert performed(out) == ["before", "after", "more1.txt"], "the step's first effect repeated"
    h.app.state.close()


def test_two_deciders_at_once_one_wins(harness: Harness, tmp_path: Path) -> None:
    setup_post(harness, tmp_path)
    harness.run("acme/post")
    pending = the_only_pending(harness)
    results: list[str] = []
    start = threading.Barrier(4)

    def decide(approve: bool) -> None:
        start.wait()
        try:
            approvals.decide(harness.app, pending.id, approve=approve, by=f"u{approve}")
            results.append("won")
        except UsageError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=decide, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1, results
    decided = [r for r in harness.audit("acme") if r["event"] == "approval.decided"]
    assert len(decided) == 1


def test_a_decision_lost_before_its_audit_record_is_caught_up_once(
    harness: Harness, tmp_path: Path
) -> None:
    setup_post(harness, tmp_path)
    harness.run("acme/post")
    pending = the_only_pending(harness)
    store = ApprovalStore(harness.app.state)
    # as if the deciding process died right after its commit, before writing the trail
    assert store.decide(pending.id, "approved", "maria", harness.clock.now(), None)
    assert approvals.catch_up_audit(harness.app) == 0  # the decider may still be writing
    harness.clock.advance(60)
    assert approvals.catch_up_audit(harness.app) == 1
    assert approvals.catch_up_audit(harness.app) == 0
    decided = [r for r in harness.audit("acme") if r["event"] == "approval.decided"]
    assert len(decided) == 1 and decided[0]["details"]["by"] == "maria"
    assert decided[0]["details"]["preview"] == ["write post1.txt", "write post2.txt"]


def test_a_listed_approval_is_read_again_when_its_row_changed(
    harness: Harness, tmp_path: Path
) -> None:
    """The listed approvals are kept by their rows' values (a polled page converts each row
    once): a row changed in the database is listed as it is now, never as it was."""
    setup_post(harness, tmp_path)
    harness.run("acme/post")
    before = the_only_pending(harness)
    assert approvals.pending(harness.app)[0] is before  # the same row: kept
    with harness.app.state.tx() as db:
        db.execute(
            "UPDATE approvals SET summary = 'Changed', preview = '[\"other\"]' WHERE id = ?",
            (before.id,),
        )
    after = the_only_pending(harness)
    assert (after.summary, after.preview) == ("Changed", ["other"])
    assert (before.summary, before.preview) == (
        "Publish 'Winter sale'?",
        ["write post1.txt", "write post2.txt"],
    )
    approvals.decide(harness.app, before.id, approve=False, by="maria", reason="no")
    assert approvals.pending(harness.app) == []


def test_a_request_lost_before_its_audit_record_is_caught_up_once(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed between storing the approval (the run is waiting) and writing
    ``approval.requested``: the service's catch-up writes it, once, with what the person deciding
    is shown."""
    from avflow import approval_flow

    setup_post(harness, tmp_path)
    with monkeypatch.context() as m:
        m.setattr(approval_flow, "record_request", lambda audit, approval: None)
        m.setattr(ApprovalStore, "set_audited", lambda self, approval_id, level: None)
        assert harness.run("acme/post").status == "waiting"
    pending = the_only_pending(harness)
    assert "approval.requested" not in [r["event"] for r in harness.audit("acme")]
    harness.clock.advance(60)
    assert approvals.catch_up_audit(harness.app) == 1
    assert approvals.catch_up_audit(harness.app) == 0
    [asked] = [r for r in harness.audit("acme") if r["event"] == "approval.requested"]
    assert asked["details"]["approval"] == pending.id
    assert asked["details"]["preview"] == ["write post1.txt", "write post2.txt"]


def test_two_approvals_in_one_run_each_shows_what_comes_before_the_next(
    harness: Harness, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    harness.client("acme", timezone="Europe/Rome")

    def write(prefix: str) -> dict[str, Any]:
        return {"folder": str(out), "count": 1, "prefix": prefix}

    harness.workflow(
        "acme",
        "twice",
        {
            "steps": [
                {"id": "first", "uses": "core.approval", "with": {"summary": "Send a?"}},
                {"id": "a", "uses": "crashy.write", "with": write("a")},
                {"id": "second", "uses": "core.approval", "with": {"summary": "Send b?"}},
                {"id": "b", "uses": "crashy.write", "with": write("b")},
            ]
        },
    )
    run = harness.run("acme/twice")
    first = the_only_pending(harness)
    assert (first.step, first.preview) == (
        "first",
        ["write a1.txt", "(then another approval, step second)"],
    )
    approvals.decide(harness.app, first.id, approve=True, by="maria")
    wf = harness.find("acme/twice")
    middle = harness.app.engine.resume_waiting(wf, first.id)
    assert middle is not None and middle.status == "waiting", middle
    assert performed(out) == ["a1.txt"]
    second = the_only_pending(harness)
    assert (second.step, second.run_id, second.preview) == ("second", run.id, ["write b1.txt"])
    approvals.decide(harness.app, second.id, approve=False, by="maria", reason="not b")
    end = harness.app.engine.resume_waiting(wf, second.id)
    assert end is not None and end.status == "rejected"
    assert end.steps == {"first": "succeeded", "a": "succeeded", "second": "rejected"}
    assert performed(out) == ["a1.txt"]
    events = [r["event"] for r in harness.audit("acme")]
    assert events.count("approval.requested") == 2 and events.count("approval.decided") == 2
