"""An approval's timeout is counted in the client's working time; then its default is taken."""

from __future__ import annotations

import sys
import threading
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))

from approvals_testkit import performed, setup_post, the_only_pending

from avflow import approvals
from avflow.api import ClientInfo
from avflow.approval_flow import add_working_days
from avflow.approval_watch import ApprovalWatch
from avflow.scheduler.runner import Task
from avflow.testing import Harness
from avflow.worktime import add_working_time

ROME = ZoneInfo("Europe/Rome")


def rome(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ROME)


def info(**kw: Any) -> ClientInfo:
    hours = {d: ((time(9), time(13)), (time(14), time(18))) for d in range(5)}
    return ClientInfo("acme", "Acme", "Europe/Rome", ROME, working_hours=hours, **kw)


def test_working_time_skips_evenings_weekends_holidays_and_closed_days() -> None:
    c = info()
    assert add_working_time(c, rome("2026-12-04 17:55"), 600) == rome("2026-12-07 09:05")
    assert add_working_time(c, rome("2026-12-04 12:55"), 600) == rome("2026-12-04 14:05")
    assert add_working_time(c, rome("2026-12-05 11:00"), 60) == rome("2026-12-07 09:01")
    assert add_working_time(c, rome("2026-12-04 09:00"), 8 * 3600) == rome("2026-12-04 18:00")
    it = info(holidays=("IT", None))  # Tuesday 8 December is a public holiday in Italy
    assert add_working_time(it, rome("2026-12-07 17:30"), 3600) == rome("2026-12-09 09:30")
    closed = info(closed=((date(2026, 12, 24), date(2027, 1, 6)),))
    assert add_working_time(closed, rome("2026-12-23 17:00"), 7200) == rome("2027-01-07 10:00")
    # across the spring DST change (Sunday 29 March 2026): a Friday-to-Monday count is unaffected
    assert add_working_time(c, rome("2026-03-27 17:00"), 7200) == rome("2026-03-30 10:00")
    never = info(closed=((date(2026, 1, 1), date(2036, 1, 1)),))
    assert add_working_time(never, rome("2026-12-04 10:00"), 60) is None
    assert add_working_time(ClientInfo("x", "X", "UTC", ROME), rome("2026-12-05 23:00"), 60) == (
        rome("2026-12-05 23:01")
    )


def test_a_timeout_in_days_counts_working_days_not_24_hours_each() -> None:
    """``1d`` is one working day (the same time of day, the next working day), not 24 hours of
    working time (three days of eight hours)."""
    c = info(holidays=("IT", None))  # Tuesday 8 December is a public holiday in Italy
    assert add_working_days(c, rome("2026-12-03 10:30"), 1) == rome("2026-12-04 10:30")
    assert add_working_days(c, rome("2026-12-04 17:55"), 1) == rome("2026-12-07 17:55")
    assert add_working_days(c, rome("2026-12-07 11:00"), 1) == rome("2026-12-09 11:00")
    assert add_working_days(c, rome("2026-12-02 18:41"), 2) == rome("2026-12-07 09:00")
    assert add_working_days(c, rome("2026-12-04 13:30"), 1) == rome("2026-12-07 14:00")
    never = info(closed=((date(2026, 1, 1), date(2036, 1, 1)),))
    assert add_working_days(never, rome("2026-12-04 10:00"), 1) is None
    plain = ClientInfo("x", "X", "Europe/Rome", ROME)  # no working hours: plain days
    assert add_working_days(plain, rome("2026-12-05 23:00"), 2) == rome("2026-12-07 23:00")


def test_core_approval_with_a_timeout_in_days(harness: Harness, tmp_path: Path) -> None:
    setup_post(harness, tmp_path, timeout="1d", default="approve")
    harness.clock.set(rome("2026-12-04 17:55"))  # a Friday
    assert harness.run("acme/post").status == "waiting"
    assert the_only_pending(harness).deadline == rome("2026-12-07 17:55")
    setup_post(harness, tmp_path, timeout="1.5d", default="approve")
    _project, errors = harness.app.load()
    assert errors and "whole working days" in str(errors[0])


def watch(h: Harness) -> ApprovalWatch:
    """The service's watcher, handing runs to the engine at once instead of to worker threads."""

    def submit(task: Task) -> bool:
        assert task.resume is not None
        task.outcomes.extend(
            o for o in [h.app.engine.resume_waiting(task.wf, task.resume)] if o is not None
        )
        return True

    return ApprovalWatch(h.app, lambda: h.app.engine, submit)


def test_friday_evening_timeout_expires_on_monday_and_the_default_approves(
    harness: Harness, tmp_path: Path
) -> None:
    out = setup_post(harness, tmp_path, timeout="10m", default="approve")
    harness.clock.set(rome("2026-12-04 17:55"))  # a Friday
    run = harness.run("acme/post")
    assert run.status == "waiting"
    pending = the_only_pending(harness)
    assert pending.deadline == rome("2026-12-07 09:05")
    assert pending.default == "approve"
    w = watch(harness)
    harness.clock.set(rome("2026-12-07 09:04"))
    w.start(thread=False)  # as the service does when it starts: nothing due yet
    assert approvals.get(harness.app, pending.id).status == "pending"
    harness.clock.set(rome("2026-12-07 09:05"))
    w.tick()
    done = approvals.get(harness.app, pending.id)
    assert (done.status, done.outcome, done.decided_by) == (
        "expired",
        "approve",
        "avflow (timeout)",
    )
    assert performed(out) == ["post1.txt", "post2.txt"]
    w.tick()
    assert performed(out) == ["post1.txt", "post2.txt"]
    decided = [r for r in harness.audit("acme") if r["event"] == "approval.decided"]
    assert len(decided) == 1 and decided[0]["details"]["status"] == "expired"


def test_default_reject_stops_the_run_after_the_timeout(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path, timeout="1h", default="reject")
    harness.clock.set(rome("2026-12-07 10:00"))
    run = harness.run("acme/post")
    harness.clock.set(rome("2026-12-07 11:00"))
    watch(harness).start(thread=False)  # the deadline passed while no service ran
    row = harness.app.state.run_by_id(run.id)
    assert row is not None and row["status"] == "rejected"
    assert performed(out) == []


def test_no_default_keeps_waiting_and_tells_the_av_once(harness: Harness, tmp_path: Path) -> None:
    out = setup_post(harness, tmp_path, timeout="30m")
    harness.clock.set(rome("2026-12-07 10:00"))
    harness.run("acme/post")
    pending = the_only_pending(harness)
    told: list[dict[str, Any]] = []

    class Notifier:  # stands where the service registers its failure notifier
        def run_finished(self, **kw: Any) -> None:
            told.append(kw)

    harness.pm.pm.register(Notifier(), name="avflow.notify")
    w = watch(harness)
    harness.clock.set(rome("2026-12-07 10:29"))
    w.start(thread=False)
    assert told == []
    harness.clock.set(rome("2026-12-07 12:00"))
    w.tick()
    w.tick(force=True)
    assert approvals.get(harness.app, pending.id).status == "pending"
    assert len(told) == 1 and told[0]["run"].workflow == "post"
    assert pending.id in told[0]["error"] and "Publish" in told[0]["error"]
    overdue = [r for r in harness.audit("acme") if r["event"] == "approval.overdue"]
    assert len(overdue) == 1 and pending.id in overdue[0]["description"]
    # decided through another connection to state.db (as by another process or thread)
    other = threading.Thread(
        target=approvals.decide, args=(harness.app, pending.id), kwargs={"approve": True, "by": "m"}
    )
    other.start()
    other.join()
    w.tick()
    assert performed(out) == ["post1.txt", "post2.txt"]


def test_a_decision_made_before_the_watch_thread_first_looks_is_seen(
    harness: Harness, tmp_path: Path
) -> None:
    """The service's first pass runs in its main thread, then the watch polls in its own thread
    with its own SQLite connection. A decision committed in between (the AV is quick after a
    restart) must be seen, though the thread's connection opens after that commit and so never
    counts it as a change (CI saw the run stay `waiting`)."""
    out = setup_post(harness, tmp_path)
    harness.clock.set(rome("2026-12-07 10:00"))
    assert harness.run("acme/post").status == "waiting"
    pending = the_only_pending(harness)
    w = watch(harness)
    w.start(thread=False)  # the first pass, in this thread: nothing decided yet
    approvals.decide(harness.app, pending.id, approve=True, by="the AV")
    polled = threading.Thread(target=w.tick)  # the watch's thread: a connection of its own
    polled.start()
    polled.join()
    assert approvals.get(harness.app, pending.id).status == "approved"
    assert performed(out) == ["post1.txt", "post2.txt"]


def test_a_person_and_the_timeout_deciding_at_once_one_wins(
    harness: Harness, tmp_path: Path
) -> None:
    """`avflow approve` (or the dashboard) and the service taking the default at the same
    moment: exactly one decision stands, the trail has it once, the run ends as it says."""
    out = setup_post(harness, tmp_path, timeout="10m", default="reject")
    harness.clock.set(rome("2026-12-07 10:00"))
    harness.run("acme/post")
    harness.clock.set(rome("2026-12-07 10:10"))
    pending = the_only_pending(harness)
    winners: list[str] = []
    start = threading.Barrier(2)

    def person() -> None:
        start.wait()
        try:
            approvals.decide(harness.app, pending.id, approve=True, by="maria")
            winners.append("maria")
        except approvals.AlreadyDecided as exc:
            assert "expired (reject by default) by avflow (timeout)" in str(exc)

    def timeout() -> None:
        start.wait()
        if approvals.expire(harness.app, pending, harness.clock.now()) is not None:
            winners.append("timeout")

    threads = [threading.Thread(target=person), threading.Thread(target=timeout)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1, winners
    watch(harness).start(thread=False)  # the service hands the run back, once
    decided = [r for r in harness.audit("acme") if r["event"] == "approval.decided"]
    assert len(decided) == 1 and decided[0]["details"]["by"] in ("maria", "avflow (timeout)")
    done = approvals.get(harness.app, pending.id)
    row = harness.app.state.run_by_id(pending.run_id)
    assert row is not None
    if winners == ["maria"]:
        assert (done.status, row["status"]) == ("approved", "succeeded")
        assert performed(out) == ["post1.txt", "post2.txt"]
    else:
        assert (done.status, row["status"]) == ("expired", "rejected")
        assert performed(out) == []
