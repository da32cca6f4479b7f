"""The effect ledger's outcome table (docs/plugins.md), row by row, through `avflow.testing`.

Each test ends with every effect performed at most once (``sent.log`` counts real performs) and
the run's status telling the truth.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import avflow
from avflow.ledger_tables import process_mark
from avflow.plugins import PluginManager
from avflow.testing import Harness, SimulatedCrash

PLUGINS_DIR = Path(__file__).parent / "plugins_dir"


def send_workflow(
    h: Harness, out: Path, *, retry: int = 2, timeout: float | None = None, **with_: Any
) -> None:
    step: dict[str, Any] = {
        "id": "send",
        "uses": "crashy.send",
        "with": {"folder": str(out), **with_},
        "retry": {"attempts": retry, "backoff": 0},
    }
    if timeout is not None:
        step["timeout"] = timeout
    h.client("acme")
    h.workflow(
        "acme",
        "mail",
        {"steps": [step, {"id": "after", "uses": "core.log", "with": {"message": "after"}}]},
    )


def sent(out: Path) -> list[str]:
    log = out / "sent.log"
    return log.read_text().split() if log.exists() else []


def events(result: Any) -> list[str]:
    return [r["event"] for r in result.audit if r["event"].startswith(("effect.", "step."))]


def cli(h: Harness, *args: str) -> tuple[int, str]:
    """``avflow ARGS`` through `avflow.cli.main` in this process: exit code, stdout + stderr."""
    from avflow.cli import main

    argv = ["--workflows", str(h.workflows), "--home", str(h.home)]
    argv += ["--plugins-dir", str(PLUGINS_DIR), *args]
    env = {"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    with CliRunner().isolation(env=env) as (out, err, _):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue().decode() + err.getvalue().decode()


# -- the outcome table ------------------------------------------------------------------------------
def test_returns_is_done_and_never_performed_again(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="crash_after")  # the step fails after the effect, once
    result = harness.run("acme/mail")
    assert result.status == "succeeded", result.error
    assert sent(out) == ["mail"]
    assert result.outputs["send"] == {"sent": "mail"}  # the stored result, on the second attempt
    assert [(e.key, e.status) for e in result.effects] == [("send:mail", "done")]
    assert events(result).count("effect.done") == 1 and "step.retry" in events(result)


def test_effect_failed_is_certainly_not_done_and_tried_again(
    harness: Harness, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="refused")
    result = harness.run("acme/mail")
    assert result.status == "succeeded", result.error
    assert sent(out) == ["mail"]
    assert events(result)[:3] == ["effect.intent", "effect.failed", "step.retry"]
    assert result.effects[0].status == "done"


def test_effect_failed_on_the_last_attempt_fails_the_run(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="refused", retry=1)
    result = harness.run("acme/mail")
    assert result.status == "failed" and "550 mailbox unavailable" in (result.error or "")
    assert sent(out) == [] and result.effects[0].status == "failed"


def test_sequence_1_lost_answer_without_reconcile_is_effect_unknown(
    harness: Harness, tmp_path: Path
) -> None:
    """The issue's first sequence: the server accepts, the answer is lost, a retry is allowed."""
    out = tmp_path / "out"
    send_workflow(harness, out, mode="lost")
    result = harness.run("acme/mail")
    assert sent(out) == ["mail"], "a second send"
    assert result.status == "failed"
    assert "outcome unknown" in (result.error or "")
    assert f"avflow effects resolve {result.id} 'send:mail' --done" in (result.error or "")
    assert result.steps == {"send": "failed"}
    assert [(e.key, e.status) for e in result.effects] == [("send:mail", "unknown")]
    assert "step.retry" not in events(result)
    # The AV checks the outbox, finds the mail sent, and says so: the run resumes and finishes.
    code, output = cli(harness, "effects", "resolve", result.id, "send:mail", "--done")
    assert code == 0, output
    assert f"run {result.id} succeeded" in output
    assert sent(out) == ["mail"]
    records = [r for r in harness.audit("acme") if r["event"] == "effect.resolved"]
    assert [(r["effect"], r["details"]["outcome"], r["details"]["was"]) for r in records] == [
        ("send:mail", "done", "unknown")
    ]
    code, output = cli(harness, "runs", "--json")
    assert '"status": "succeeded"' in output


def test_unknown_settled_as_not_done_is_performed_on_resume(
    harness: Harness, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="unsent")  # times out before sending: the AV finds nothing
    result = harness.run("acme/mail")
    assert result.status == "failed" and sent(out) == []
    code, output = cli(harness, "effects", "resolve", result.id, "send:mail", "--not-done")
    assert code == 0, output
    assert sent(out) == ["mail"]
    code, output = cli(harness, "effects", "show", result.id)
    assert output.split()[:2] == ["done", "run"]
    code, output = cli(harness, "effects", "resolve", result.id, "send:mail", "--not-done")
    assert code == 2 and "recorded as done by avflow itself" in output


def test_resolve_needs_an_answer_and_a_known_effect(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="lost")
    result = harness.run("acme/mail")
    assert cli(harness, "effects", "resolve", result.id, "send:mail")[0] == 2
    code, output = cli(
        harness, "effects", "resolve", result.id, "send:mail", "--done", "--not-done"
    )
    assert code == 2 and "one of them" in output  # not the last one given
    code, output = cli(harness, "effects", "resolve", result.id, "nope", "--done")
    assert code == 2 and "has no effect 'nope'" in output
    code, output = cli(harness, "effects", "resolve", "no-such-run", "send:mail", "--done")
    assert code == 2 and "no run" in output
    assert sent(out) == ["mail"]


def test_lost_answer_with_reconcile_is_checked_not_repeated(
    harness: Harness, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="lost", reconcile=True)
    result = harness.run("acme/mail")
    assert result.status == "succeeded", result.error
    assert sent(out) == ["mail"]
    reconciled = [r for r in result.audit if r["event"] == "effect.reconciled"]
    assert [r["details"]["found"] for r in reconciled] == [True]


def test_lost_answer_of_an_idempotent_effect_is_repeated(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, mode="lost", idempotent=True)
    result = harness.run("acme/mail")
    assert result.status == "succeeded", result.error
    assert sent(out) == ["mail", "mail"]  # declared harmless to repeat: repeated, as promised
    assert events(result).count("effect.unknown") == 1


@pytest.mark.parametrize("edge", ["before", "after", "recorded"])
def test_a_run_stopped_dead_at_each_point_of_the_protocol_resumes_once(
    harness: Harness, tmp_path: Path, edge: str
) -> None:
    """The fault point `avflow.testing` injects (`Harness.crash_at`) at each point of the
    protocol: intent durable / performed, outcome not recorded / recorded. The resumed run
    performs every effect once and says it succeeded (tests/test_crash.py does it with SIGKILL)."""
    out = tmp_path / "out"
    harness.client("acme")
    harness.workflow(
        "acme", "w", {"steps": [{"uses": "crashy.write", "with": {"folder": str(out), "count": 3}}]}
    )
    harness.crash_at(2, edge)
    with pytest.raises(SimulatedCrash):
        harness.run("acme/w")
    performed = (out / "performed.log").read_text().split()
    assert performed == (["file1.txt"] if edge == "before" else ["file1.txt", "file2.txt"])
    [resumed] = harness.resume()
    assert resumed.status == "succeeded", resumed.error
    assert sorted((out / "performed.log").read_text().split()) == [
        "file1.txt",
        "file2.txt",
        "file3.txt",
    ]
    assert sorted(resumed.performed()) == ["write:file1.txt", "write:file2.txt", "write:file3.txt"]
    assert harness.resume() == []


# -- timeouts ---------------------------------------------------------------------------------------
def test_sequence_2_timed_out_attempt_ends_before_the_retry(
    harness: Harness, tmp_path: Path
) -> None:
    """The issue's second sequence: timeout 0.2 s, a 0.5 s perform, a reconcile and a retry."""
    out = tmp_path / "out"
    send_workflow(harness, out, timeout=0.2, delay=0.5, reconcile=True)
    result = harness.run("acme/mail")
    assert sent(out) == ["mail"], "two sends"
    assert result.status == "succeeded", result.error
    assert [(e.key, e.status) for e in result.effects] == [("send:mail", "done")]
    retry = [r for r in result.audit if r["event"] == "step.retry"]
    assert ["timed out after 0.2s" in r["description"] for r in retry] == [True]
    assert events(result).count("effect.intent") == 1  # the second attempt found it done


def test_single_attempt_whose_effect_ends_late_says_so(harness: Harness, tmp_path: Path) -> None:
    """attempts 1: the timed-out attempt's effect ends done within the grace; the run fails (the
    step took too long) and its error says the effect was performed, so nobody sends it again."""
    out = tmp_path / "out"
    send_workflow(harness, out, timeout=0.2, delay=0.5, retry=1)
    result = harness.run("acme/mail")
    assert sent(out) == ["mail"]
    assert result.status == "failed"
    assert "timed out after 0.2s, but effect 'send:mail' ended done" in (result.error or "")
    assert [(e.key, e.status) for e in result.effects] == [("send:mail", "done")]


def test_attempt_that_does_not_stop_is_not_retried(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_workflow(harness, out, timeout=0.1, delay=1.6, reconcile=True, retry=3)
    result = harness.run("acme/mail")
    assert result.status == "failed"
    assert "did not stop" in (result.error or "") and "'send:mail'" in (result.error or "")
    assert [e.status for e in result.effects] == ["pending"]  # still being performed
    deadline = time.monotonic() + 5
    while not sent(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert sent(out) == ["mail"]
    assert [e.status for e in harness.app.ledger.of_run(result.id)] == [
        "done"
    ]  # recorded at its end
    code, output = cli(harness, "effects", "resolve", result.id, "send:mail", "--done")
    assert code == 0 and f"run {result.id} succeeded" in output, output
    assert sent(out) == ["mail"]


# -- scopes -----------------------------------------------------------------------------------------
class NoParams(BaseModel):
    pass


def keys_harness(tmp_path: Path, run: Callable[..., Any]) -> Harness:
    class Plugin:
        @avflow.hookimpl
        def register_actions(self, register: Callable[[avflow.Action[Any]], None]) -> None:
            register(avflow.Action("keys.make", NoParams, run))

    return Harness(tmp_path, pm=PluginManager(autoload=False, extra=[("keys", Plugin())]))


def test_scopes_never_collide(tmp_path: Path) -> None:
    """A client-scoped ``inbox#2`` and workflow ``inbox``'s workflow-scoped ``2`` are two effects."""
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("2", "workflow-scoped", lambda: calls.append("workflow"), scope="workflow")
        ctx.effect("inbox#2", "client-scoped", lambda: calls.append("client"), scope="client")
        ctx.effect(f"{ctx.run.key}#3", "run-scoped", lambda: calls.append("run"))
        ctx.effect("3", "client 3", lambda: calls.append("client3"), scope="client")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "inbox", {"steps": [{"uses": "keys.make"}]})
    first = h.run("acme/inbox")
    assert first.status == "succeeded", first.error
    assert calls == ["workflow", "client", "run", "client3"]
    assert {(e.key, e.scope) for e in first.effects} == {
        ("2", "workflow"),
        ("inbox#2", "client"),
        (f"{first.key}#3", "run"),
        ("3", "client"),
    }
    second = h.run("acme/inbox")
    assert calls[4:] == ["run"]  # only the per-run effect is new
    assert second.performed() == [f"{second.key}#3"]


def test_a_wrong_scope_is_refused_before_anything(tmp_path: Path) -> None:
    calls: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("x", "x", lambda: calls.append(1), scope="global")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "keys.make"}]})
    result = h.run("acme/wf")
    assert result.status == "failed" and "scope must be run, workflow or client" in (
        result.error or ""
    )
    assert calls == []


V1 = """
CREATE TABLE effects (client TEXT NOT NULL, key TEXT NOT NULL, run_id TEXT NOT NULL,
  step TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
  result TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (client, key));
CREATE INDEX effects_by_run ON effects (run_id);
"""


def test_state_of_the_first_layout_is_migrated(tmp_path: Path) -> None:
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("2", "w", lambda: calls.append("w2"), scope="workflow")
        ctx.effect("doc", "c", lambda: calls.append("doc"), scope="client")
        ctx.effect("old", "c", lambda: calls.append("old"), scope="client")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "inbox", {"steps": [{"uses": "keys.make"}]})
    h.home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(h.home / "state.db")
    db.executescript(V1)
    db.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, client TEXT NOT NULL,"
        " workflow TEXT NOT NULL, scheduled_at TEXT, trigger TEXT NOT NULL, event TEXT,"
        " dry_run INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, error TEXT,"
        " created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT)"
    )
    db.execute(
        "INSERT INTO runs VALUES ('r1', 'acme/inbox@manual:r1', 'acme', 'inbox', NULL, 'manual',"
        " NULL, 0, 'succeeded', NULL, 't', 't', 't')"
    )
    rows = [
        ("inbox#2", "done"),
        ("doc", "done"),
        ("acme/inbox@manual:r1#m", "done"),
        ("old", "failed"),
    ]
    for key, status in rows:
        db.execute(
            "INSERT INTO effects VALUES ('acme', ?, 'r1', 's', 'k', 'd', ?, '1', 't', 't')",
            (key, status),
        )
    db.commit()
    db.close()
    old = h.app.ledger.of_run("r1")
    assert {(e.key, e.scope, e.status) for e in old} == {
        ("2", "workflow", "done"),
        ("doc", "client", "done"),
        ("m", "run", "done"),
        ("old", "client", "unknown"),  # v1 "failed" meant any error: not known to be undone
    }
    result = h.run("acme/inbox")
    assert calls == []  # done ones are not repeated; the unknown one is not blindly repeated
    assert result.status == "failed" and "'old'" in (result.error or "")


# -- two performers ---------------------------------------------------------------------------------
def test_a_key_in_flight_is_never_started_twice(tmp_path: Path) -> None:
    """Two workflows of one client reach the same client-scoped key at once: one perform."""
    import threading

    calls: list[str] = []
    performing, release = threading.Event(), threading.Event()

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        def perform() -> str:
            calls.append(ctx.run.workflow)
            performing.set()  # a is inside perform(): b arrives now, however slow the machine
            assert release.wait(30)
            return "sent"

        ctx.effect("invoice-42", "send invoice 42", perform, scope="client")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "a", {"steps": [{"uses": "keys.make"}]})
    h.workflow("acme", "b", {"steps": [{"uses": "keys.make"}]})
    wf_a, wf_b = h.find("acme/a"), h.find("acme/b")
    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.update(a=h.app.engine.trigger(wf_a)))
    first.start()
    assert performing.wait(30)
    results["b"] = h.app.engine.trigger(wf_b)
    release.set()
    first.join()
    assert calls == ["a"]
    assert results["a"].status == "succeeded"
    assert results["b"].status == "failed"
    assert "being performed by another attempt or process" in (results["b"].error or "")
    again = h.run("acme/b")
    assert again.status == "succeeded" and calls == ["a"]


def test_a_key_claimed_by_another_live_process_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    calls: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("doc", "write doc", lambda: calls.append(1), scope="client")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "keys.make"}]})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ledger = h.app.ledger  # creates the tables
        with h.app.state.tx() as db:
            db.execute(
                "INSERT INTO effects VALUES ('acme', 'client', '', 'doc', 'r0', 's', 'k', 'd',"
                " 'pending', NULL, NULL, ?, 't', 't', ?)",
                (other.pid, process_mark(other.pid)),
            )
        busy = h.run("acme/wf")
        assert busy.status == "failed" and f"(pid {other.pid})" in (busy.error or "")
        assert calls == []
    finally:
        other.kill()
        other.wait()
    # its owner is gone: the outcome is unknown, and this effect can neither be checked nor
    # repeated, so the AV is asked
    after = h.run("acme/wf")
    assert after.status == "failed" and "outcome unknown" in (after.error or "")
    assert calls == [] and ledger is h.app.ledger


def test_an_answer_on_a_workflow_that_cannot_load_is_kept_and_said_so(
    harness: Harness, tmp_path: Path
) -> None:
    """`effects resolve` records the answer, then cannot go on (the client's profile is broken
    now): one line says the answer is kept and what finishes the run, and it does."""
    out = tmp_path / "out"
    send_workflow(harness, out, mode="unsent")
    result = harness.run("acme/mail")
    assert result.status == "failed" and sent(out) == []
    profile = harness.workflows / "acme" / "client.yaml"
    kept = profile.read_text()
    profile.write_text("name: [\n")
    code, output = cli(harness, "effects", "resolve", result.id, "send:mail", "--not-done")
    assert code == 2
    assert (
        f"error: the answer is kept, but acme/mail cannot go on now ({profile}:2:1: YAML syntax "
        in output
    )
    assert output.rstrip().endswith("once it loads again, `avflow resume` finishes the run")
    assert sent(out) == []
    profile.write_text(kept)
    code, output = cli(harness, "resume")
    assert code == 0 and f"acme/mail run {result.id} succeeded" in output, output
    assert sent(out) == ["mail"]


def test_an_effect_unknown_the_action_swallows_still_stops_the_run(tmp_path: Path) -> None:
    """An action that catches `EffectUnknown` and goes on does not make the run succeed: the
    step fails with the ledger's message, and the AV's answer lets the run finish."""
    calls: list[str] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> dict[str, Any]:
        def perform() -> None:
            calls.append("sent")
            if len(calls) == 1:
                raise TimeoutError("the answer was lost")

        try:
            ctx.effect("invoice-7", "send invoice 7", perform)
        except Exception:
            return {"sent": False}  # a careless action: "try again next time"
        return {"sent": True}

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"id": "send", "uses": "keys.make"}]})
    result = h.run("acme/wf")
    assert result.status == "failed" and "outcome unknown" in (result.error or "")
    assert result.steps == {"send": "failed"} and calls == ["sent"]
    assert [(e.key, e.status) for e in result.effects] == [("invoice-7", "unknown")]
    record = h.app.ledger.resolve(result.id, "invoice-7", done=True)
    h.app.state.reopen_run(result.id, record.step)  # as `avflow effects resolve` does
    resumed = h.app.engine.execute(h.find("acme/wf"), result.id)
    assert resumed.status == "succeeded" and resumed.outputs["send"] == {"sent": True}
    assert calls == ["sent"]


V2 = """
CREATE TABLE effects (client TEXT NOT NULL, scope TEXT NOT NULL, scope_id TEXT NOT NULL,
  key TEXT NOT NULL, run_id TEXT NOT NULL, step TEXT NOT NULL, kind TEXT NOT NULL,
  description TEXT NOT NULL, status TEXT NOT NULL, result TEXT, error TEXT, owner INTEGER,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (client, scope, scope_id, key));
"""


def test_a_claim_whose_pid_now_belongs_to_another_process_is_unknown(tmp_path: Path) -> None:
    """After a reboot (or once process ids wrap) a dead performer's pid may be a live, unrelated
    process: its claim is recognised as dead by the process's boot and start time, so the run
    is not blocked forever and the AV can settle the effect."""
    import subprocess
    import sys

    calls: list[int] = []

    def act(ctx: avflow.StepContext, params: NoParams) -> None:
        ctx.effect("doc", "write doc", lambda: calls.append(1), scope="client")

    h = keys_harness(tmp_path, act)
    h.client("acme")
    h.workflow("acme", "wf", {"steps": [{"uses": "keys.make"}]})
    h.home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(h.home / "state.db")
    db.executescript(V2)  # a state.db from before the owner's mark: the column is added
    db.commit()
    db.close()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mark = process_mark(stranger.pid)
        assert mark is not None and mark.count(":") == 1
        assert h.app.ledger is not None  # opening the ledger adds the column
        with h.app.state.tx() as db:
            db.execute(
                "INSERT INTO effects (client, scope, scope_id, key, run_id, step, kind,"
                " description, status, owner, owner_mark, created_at, updated_at) VALUES"
                " ('acme', 'client', '', 'doc', 'r0', 's', 'k', 'd', 'pending', ?, ?, 't', 't')",
                (stranger.pid, mark.split(":")[0] + ":1"),  # the same boot, another start
            )
        result = h.run("acme/wf")
        assert result.status == "failed" and "outcome unknown" in (result.error or "")
        assert "being performed" not in (result.error or "") and calls == []
        h.app.ledger.resolve("r0", "doc", done=False)
        assert h.run("acme/wf").status == "succeeded" and calls == [1]
    finally:
        stranger.kill()
        stranger.wait()


def test_an_answer_never_overwrites_a_claim_made_meanwhile(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AV answers while another process claims the effect again, right after the answer
    read the effect's row: the claim is either seen (the answer refused) or comes after the
    answer; never is a claim in flight overwritten (that would free the key for a second
    perform)."""
    import subprocess
    import sys
    import threading

    from avflow.errors import UsageError

    out = tmp_path / "out"
    send_workflow(harness, out, mode="unsent")
    result = harness.run("acme/mail")
    assert result.effects[0].status == "unknown"
    ledger = harness.app.ledger
    performer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def claim() -> None:  # the other process, on its own connection, as a claim is made
        db = sqlite3.connect(harness.home / "state.db", timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE effects SET status = 'pending', owner = ?, owner_mark = ?"
            " WHERE status NOT IN ('done', 'pending')",
            (performer.pid, process_mark(performer.pid)),
        )
        db.execute("COMMIT")
        db.close()

    claimer = threading.Thread(target=claim)
    real = ledger._status

    def status(row: Any, eid: Any) -> str | None:
        if not claimer.is_alive() and claimer.ident is None:
            claimer.start()  # the claim is made now, while the answer is being decided
            claimer.join(1.0)
        return real(row, eid)

    monkeypatch.setattr(ledger, "_status", status)
    try:
        try:
            ledger.resolve(result.id, "send:mail", False)
        except UsageError as exc:
            assert "being performed right now" in str(exc)
        claimer.join(30)
        row = harness.app.state.db.execute("SELECT status, owner FROM effects").fetchone()
        assert (row["status"], row["owner"]) == ("pending", performer.pid)
    finally:
        performer.kill()
        performer.wait()
