"""``avflow approvals``, ``avflow approve`` and ``avflow reject`` (no service running)."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from approvals_testkit import performed, setup_post, the_only_pending

from avflow import approvals
from avflow.cli import main
from avflow.testing import Harness

PLUGINS = Path(__file__).parent / "plugins_dir"


@dataclass
class Cli:
    code: int
    out: str
    err: str


def avflow(h: Harness, *args: str) -> Cli:
    argv = ["--workflows", str(h.workflows), "--home", str(h.home)]
    argv += ["--plugins-dir", str(PLUGINS), "--log-json", *args]
    with CliRunner().isolation() as streams:
        try:
            main(argv, clock=h.clock)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return Cli(code, out, err)


@pytest.fixture(autouse=True)
def _no_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")


def test_list_shows_local_times_with_the_zone_and_the_preview(
    harness: Harness, tmp_path: Path
) -> None:
    setup_post(harness, tmp_path, timeout="10m", default="reject")
    harness.clock.set("2026-12-04T16:55:00+00:00")  # Friday 17:55 in Rome
    harness.run("acme/post")
    pending = the_only_pending(harness)
    listed = avflow(harness, "approvals")
    assert listed.code == 0, listed.err
    header, row = listed.out.splitlines()[:2]
    assert header.split() == ["ID", "CLIENT/WORKFLOW", "STEP", "ASKED", "DEADLINE"]
    assert re.split(r"\s{2,}", row) == [
        pending.id,
        "acme/post",
        "check",
        "Fri 2026-12-04 17:55 CET",
        "Mon 2026-12-07 09:05 CET, then reject",
    ]
    assert header.index("ASKED") == row.index("Fri") and header.index("DEADLINE") == row.index(
        "Mon"
    )
    assert "Publish 'Winter sale'?" in listed.out
    assert "- write post1.txt" in listed.out and "- write post2.txt" in listed.out
    assert avflow(harness, "approvals", "acme").out == listed.out
    harness.clock.set("2026-12-07T08:05:00+00:00")  # the deadline, and no service to take it
    passed = avflow(harness, "approvals").out.splitlines()[1]
    assert passed.endswith("Mon 2026-12-07 09:05 CET, then reject (passed: at the next check)")
    as_json = avflow(harness, "approvals", "acme", "--json")
    [row] = [json.loads(line) for line in as_json.out.splitlines()]
    assert row["id"] == pending.id and row["preview"] == ["write post1.txt", "write post2.txt"]
    setup_post(harness, tmp_path, "bolt")
    assert "no approvals waiting for bolt" in avflow(harness, "approvals", "bolt").out
    unknown = avflow(harness, "approvals", "nobody")
    assert unknown.code == 2 and unknown.err == (
        f"error: unknown client 'nobody': no {harness.workflows / 'nobody' / 'client.yaml'}\n"
    )
    (harness.workflows / "linked").symlink_to(harness.workflows / "acme")
    linked = avflow(harness, "approvals", "linked")  # acme's folder under another name
    assert linked.code == 2 and "is a symbolic link" in linked.err, linked


def test_approve_runs_the_rest_once_and_a_second_decision_is_refused(
    harness: Harness, tmp_path: Path
) -> None:
    out = setup_post(harness, tmp_path)
    run = harness.run("acme/post")
    pending = the_only_pending(harness)
    approved = avflow(harness, "approve", pending.id, "--reason", "fine")
    assert approved.code == 0, approved.err
    assert f"approval {pending.id} approved" in approved.out
    assert f"run {run.id} succeeded" in approved.out
    assert performed(out) == ["post1.txt", "post2.txt"]
    again = avflow(harness, "reject", pending.id, "--reason", "changed my mind")
    assert again.code == 2
    assert again.err.startswith(f"error: approval {pending.id} was already approved by ")
    when = approvals.get(harness.app, pending.id).decided_at
    assert when is not None
    local = when.astimezone(ZoneInfo("Europe/Rome"))  # the client's time, as everywhere
    assert again.err.rstrip().endswith(f" at {local:%a %Y-%m-%d %H:%M} {local.tzname()}")
    assert len(again.err.strip().splitlines()) == 1 and "Traceback" not in again.err
    assert performed(out) == ["post1.txt", "post2.txt"]
    verify = avflow(harness, "audit", "verify", "acme")
    assert verify.code == 0, verify.out + verify.err


def test_reject_stops_the_run_and_needs_a_reason(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path)
    run = harness.run("acme/post")
    pending = the_only_pending(harness)
    no_reason = avflow(harness, "reject", pending.id)
    assert no_reason.code == 2 and "--reason" in no_reason.err
    blank = avflow(harness, "reject", pending.id, "--reason", "  ")
    assert blank.code == 2 and "--reason" in blank.err
    rejected = avflow(harness, "reject", pending.id, "--reason", "wrong price")
    assert rejected.code == 0, rejected.err
    assert f"run {run.id} rejected: approval {pending.id} rejected: wrong price" in rejected.out
    assert performed(out) == []
    runs = avflow(harness, "runs", "--json")
    assert json.loads(runs.out.splitlines()[0])["status"] == "rejected"
    decided = [
        r for r in harness.reload().audit.records("acme") if r["event"] == "approval.decided"
    ]
    assert decided[0]["details"]["reason"] == "wrong price"
    assert avflow(harness, "audit", "verify", "acme").code == 0


@pytest.mark.parametrize("bad", ["nope", "x" * 300, "../../etc", "a\udcff"])
def test_unknown_ids_are_one_line_exit_2(harness: Harness, tmp_path: Path, bad: str) -> None:
    setup_post(harness, tmp_path)
    for command in (["approve", bad], ["reject", bad, "--reason", "no"]):
        result = avflow(harness, *command)
        assert result.code == 2
        assert result.err.startswith("error: no approval ")
        assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("then", [("resume",), ("run", "--once")])
def test_a_busy_workflow_is_taken_up_by_what_the_message_names(
    harness: Harness, tmp_path: Path, then: tuple[str, ...]
) -> None:
    out = setup_post(harness, tmp_path)
    run = harness.run("acme/post")
    pending = the_only_pending(harness)
    lock = harness.app.engine.workflow_lock(harness.find("acme/post"))
    assert lock.acquire()  # another run of the workflow is going on
    try:
        approved = avflow(harness, "approve", pending.id)
    finally:
        lock.release()
    assert approved.code == 0, approved.err
    assert approved.out.splitlines()[-1] == (
        "acme/post is busy (another run of it is going on): the decision is kept; once that "
        "run has ended, `avflow resume` takes this run up (so does `avflow run`, the service, "
        "when started)"
    )
    assert performed(out) == []
    once = avflow(harness, *then)
    assert once.code == 0, once.err
    assert performed(out) == ["post1.txt", "post2.txt"]
    row = harness.app.state.run_by_id(run.id)
    assert row is not None and row["status"] == "succeeded"


def test_control_characters_in_a_summary_do_not_reach_the_terminal(
    harness: Harness, tmp_path: Path
) -> None:
    setup_post(harness, tmp_path)
    title = "\x1b[2J\x1b]0;pwned\x07Winter sale"  # e.g. from a mail's subject
    harness.workflow(
        "acme",
        "post",
        {
            "steps": [
                {"id": "draft", "uses": "core.set", "with": {"values": {"title": title}}},
                {
                    "id": "check",
                    "uses": "core.approval",
                    "with": {"summary": "Publish '{{ steps.draft.outputs.title }}'?"},
                },
            ]
        },
    )
    harness.run("acme/post")
    assert the_only_pending(harness).summary == f"Publish '{title}'?"
    listed = avflow(harness, "approvals")
    assert "pwned Winter sale'?" in listed.out
    assert "\x1b" not in listed.out and "\x07" not in listed.out


def test_no_resume_leaves_the_run_to_avflow_resume(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path)
    run = harness.run("acme/post")
    pending = the_only_pending(harness)
    recorded = avflow(harness, "approve", pending.id, "--no-resume")
    assert recorded.code == 0 and "run " not in recorded.out.replace(f"run {run.id})", "")
    assert performed(out) == []
    resumed = avflow(harness, "resume")
    assert resumed.code == 0, resumed.err
    assert f"acme/post run {run.id} succeeded" in resumed.out
    assert performed(out) == ["post1.txt", "post2.txt"]
    assert avflow(harness, "resume").out.strip() == "no interrupted runs"


def test_the_preview_of_the_following_steps_logs_nothing_of_them(harness: Harness) -> None:
    """The preview is a dry run of the steps after the approval: what they would say is not
    printed by `avflow trigger` (they have not run); once approved and run, it is, once."""
    harness.client("acme", name="Acme", timezone="Europe/Rome")
    harness.workflow(
        "acme",
        "post",
        {
            "steps": [
                {"id": "check", "uses": "core.approval", "with": {"summary": "Go?"}},
                {"id": "say", "uses": "core.log", "with": {"message": "said by step say"}},
            ]
        },
    )
    asked = avflow(harness, "trigger", "acme/post")
    assert asked.code == 0, asked.err
    assert "waiting" in asked.out
    assert "said by step say" not in asked.out + asked.err
    approved = avflow(harness, "approve", the_only_pending(harness).id)
    assert approved.code == 0, approved.err
    assert (approved.out + approved.err).count("said by step say") == 1


@pytest.mark.parametrize("broken", ["workflow removed", "profile broken"])
def test_a_decision_on_a_workflow_that_cannot_load_is_kept_and_said_so(
    harness: Harness, broken: str
) -> None:
    """The decision is recorded; the run cannot go on now, and the one line says so and what
    takes it up: `avflow resume`, once the files load again (it does)."""
    harness.client("acme", name="Acme", timezone="Europe/Rome")
    wf = {"steps": [{"id": "check", "uses": "core.approval", "with": {"summary": "Go?"}}]}
    wf["steps"].append({"id": "say", "uses": "core.log", "with": {"message": "went on"}})
    harness.workflow("acme", "post", wf)
    assert avflow(harness, "trigger", "acme/post").code == 0
    pending = the_only_pending(harness)
    path = harness.workflows / "acme" / ("post.yaml" if "workflow" in broken else "client.yaml")
    kept = path.read_text()
    if "workflow" in broken:
        path.unlink()
        why = "its workflow file is gone"
    else:
        path.write_text("name: [\n")
        why = f"{path}:2:1: YAML syntax error"
    approved = avflow(harness, "approve", pending.id)
    assert approved.code == 2
    assert approved.out == f"approval {pending.id} approved (acme/post, run {pending.run_id})\n"
    assert approved.err.startswith(
        f"error: the decision is kept, but acme/post cannot go on now ({why}"
    ), approved.err
    assert approved.err.endswith("); once it loads again, `avflow resume` takes the run up\n")
    path.write_text(kept)
    resumed = avflow(harness, "resume")
    assert resumed.code == 0 and f"acme/post run {pending.run_id} succeeded" in resumed.out
    assert "went on" in resumed.err


@pytest.mark.parametrize("command", [["approve"], ["reject", "--reason", "no"]])
def test_deciding_in_a_mistyped_home_creates_nothing_and_names_it(
    harness: Harness, tmp_path: Path, command: list[str]
) -> None:
    setup_post(harness, tmp_path)
    assert harness.run("acme/post").status == "waiting"
    pending = the_only_pending(harness)
    typo = tmp_path / "home-typo"
    argv = ["--workflows", str(harness.workflows), "--home", str(typo), "--plugins-dir"]
    with CliRunner().isolation() as streams:
        with pytest.raises(SystemExit) as ended:
            main([*argv, str(PLUGINS), command[0], pending.id, *command[1:]], clock=harness.clock)
        err = streams[1].getvalue().decode()
    assert ended.value.code == 2 and not typo.exists()
    assert err == (
        f"error: no approval {pending.id!r} (home: {typo} (--home; it does not exist))\n"
    )
    wrong = avflow(harness, command[0], "abcdefghjk", *command[1:])  # a home, not this id
    assert wrong.code == 2 and wrong.err.splitlines()[-1] == (
        f"error: no approval 'abcdefghjk' (see `avflow approvals`; home: {harness.home} (--home))"
    )
    assert the_only_pending(harness).status == "pending"
