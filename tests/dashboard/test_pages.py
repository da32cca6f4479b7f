"""The dashboard's pages through Starlette's TestClient: what each shows, pagination, scope."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from dashboard_testkit import make_client

WF_FIRES = {
    "name": "Inbox triage",
    "on": {"schedule": [{"cron": "0 * * * *"}], "when": "working_hours"},
    "steps": [{"id": "say", "uses": "core.log", "with": {"message": "hello"}}],
}


def _runs(h: Any, ref: str, n: int) -> None:
    for _ in range(n):
        h.run(ref)


def test_home_lists_clients_a_page_at_a_time(h: Any, logged: Any) -> None:
    for i in range(55):
        h.client(f"c{i:02d}", timezone="Europe/Rome")
    h.workflow("c00", "inbox", WF_FIRES)
    h.workflow(
        "c01",
        "broken",
        {"steps": [{"id": "x", "uses": "core.fail", "with": {"message": "it broke"}}]},
    )
    h.run("c00/inbox")
    h.run("c01/broken")
    page = logged.get("/").text
    assert "C00" in page and "C49" in page and "C50" not in page
    assert "Europe/Rome (CET)" in page  # the zone, with its abbreviation now (January)
    assert 'class="st-succeeded">succeeded</span> inbox' in page
    assert 'class="st-failed">broken</span>' in page  # c01's failing workflow
    assert "/?page=1" in page
    second = logged.get("/?page=1").text
    assert "C50" in second and "C54" in second and "C00" not in second
    assert "/?page=0" in second and "/?page=2" not in second
    fragment = logged.get("/?page=1", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<section id="clients"') and "<html" not in fragment


def test_client_page_upcoming_firings_in_local_time_with_gated_ones_marked(
    h: Any, logged: Any
) -> None:
    # FakeClock starts on Monday 2026-01-05 09:00 UTC = 10:00 in Rome; working time ends 12:00
    h.client("acme", timezone="Europe/Rome", working_hours={"mon-fri": "09:00-12:00"})
    h.workflow("acme", "inbox", WF_FIRES)
    page = logged.get("/clients/acme").text
    assert "Mon 2026-01-05 11:00 CET" in page
    gated = page.split("Mon 2026-01-05 12:00 CET", 1)[1].split("</tr>", 1)[0]
    assert "gated: outside working hours" in gated
    ok = page.split("Mon 2026-01-05 11:00 CET", 1)[1].split("</tr>", 1)[0]
    assert "gated" not in ok
    h.clock.set("2026-01-05T11:30:00+00:00")  # 12:30 in Rome: the next firing gating lets run
    later = logged.get("/clients/acme").text  # is tomorrow's first, after the night
    row = later.split(">Inbox triage</a>", 1)[1].split("</tr>", 1)[0]
    assert "Tue 2026-01-06 09:00 CET" in row and "(outside working hours until then)" in row


def test_upcoming_crosses_a_dst_change_with_the_right_abbreviation(h: Any, logged: Any) -> None:
    h.clock.set("2026-03-28T20:00:00Z")
    h.client("acme", timezone="Europe/Rome")
    h.workflow(
        "acme",
        "daily",
        {"name": "Daily", "on": {"schedule": [{"cron": "30 8 * * *"}]}, "steps": WF_FIRES["steps"]},
    )
    page = logged.get("/clients/acme").text
    assert "Sun 2026-03-29 08:30 CEST" in page and "Mon 2026-03-30 08:30 CEST" in page


def test_runs_are_paginated_newest_first_with_steps_effects_and_errors(
    h: Any, logged: Any, tmp_path: Path
) -> None:
    h.client("acme")
    out = tmp_path / "out.txt"
    h.workflow(
        "acme",
        "write",
        {
            "name": "Write",
            "steps": [{"id": "w", "uses": "fx.write", "with": {"path": str(out), "lines": 2}}],
        },
    )
    h.workflow(
        "acme",
        "broken",
        {"steps": [{"id": "x", "uses": "core.fail", "with": {"message": "disk full"}}]},
    )
    _runs(h, "acme/write", 30)
    failed = h.run("acme/broken")
    first = logged.get("/clients/acme/runs").text
    assert first.count('class="run"') == 25
    assert failed.id in first.split('class="run"')[1]  # newest first
    assert "disk full" in first
    second = logged.get("/clients/acme/runs?page=1").text
    assert second.count('class="run"') == 6 and "page=2" not in second
    only = logged.get("/clients/acme/runs?workflow=broken").text
    assert only.count('class="run"') == 1
    run = h.app.state.recent_runs("acme", "write", 1)[0]
    detail = logged.get(f"/clients/acme/runs/{run['id']}").text
    assert "write line 0 to out.txt" in detail and "write line 1 to out.txt" in detail
    assert "fx.write" in detail and 'class="st-done">done' in detail
    broken = logged.get(f"/clients/acme/runs/{failed.id}").text
    assert "disk full" in broken and 'class="run-status st-failed"' in broken


def test_a_run_is_only_found_under_its_own_client(h: Any, logged: Any) -> None:
    h.client("acme")
    h.client("beta")
    h.workflow("acme", "inbox", WF_FIRES)
    run = h.run("acme/inbox")
    assert logged.get(f"/clients/acme/runs/{run.id}").status_code == 200
    r = logged.get(f"/clients/beta/runs/{run.id}")
    assert r.status_code == 404 and run.id not in r.text
    assert logged.get("/clients/nobody").status_code == 404
    assert logged.get("/clients/..%2Fhome").status_code == 404


def test_attention_lists_failing_and_silent_workflows(h: Any, logged: Any) -> None:
    h.client("acme")
    h.workflow(
        "acme",
        "broken",
        {"steps": [{"id": "x", "uses": "core.fail", "with": {"message": "boom here"}}]},
    )
    h.workflow(
        "acme",
        "hourly",
        {"name": "Hourly", "on": {"schedule": [{"cron": "0 * * * *"}]}, "steps": WF_FIRES["steps"]},
    )
    h.run("acme/broken")
    h.run("acme/hourly", scheduled_at="2026-01-05T06:00:00+00:00")  # then 3 hours of silence
    page = logged.get("/attention").text
    broken = page.split(">broken<", 1)[1].split("</tr>", 1)[0]
    assert "flag-failing" in broken and "boom here" in broken
    hourly = page.split(">Hourly<", 1)[1].split("</tr>", 1)[0]
    assert "flag-silent" in hourly
    client = logged.get("/clients/acme").text
    assert "flag-failing" in client and "flag-silent" in client


def test_audit_status_says_ok_then_names_the_tampered_record(h: Any, logged: Any) -> None:
    h.client("acme")
    h.workflow("acme", "inbox", WF_FIRES)
    assert "no audit trail yet" in logged.get("/clients/acme/audit").text
    h.run("acme/inbox")
    h.app.audit.sync()
    ok = logged.get("/clients/acme/audit").text
    assert 'class="ok">OK:' in ok and "Last checkpoint: seq" in ok
    month = next(p for p in (h.home / "audit" / "acme").glob("*.jsonl") if p.name[:2].isdigit())
    text = month.read_text().replace("run.started", "run.startex", 1)
    month.write_text(text)
    bad = logged.get("/clients/acme/audit").text
    assert 'class="error">FAILED: first bad record:' in bad and month.name in bad


def test_a_session_limited_to_one_client_sees_nothing_of_another(h: Any) -> None:
    import base64
    import json

    import itsdangerous
    from dashboard_testkit import TOKEN

    from avflow.dashboard.security import session_key

    h.client("acme")
    h.client("beta")
    h.workflow("beta", "inbox", WF_FIRES)
    run = h.run("beta/inbox")
    web = make_client(h)
    data = base64.b64encode(
        json.dumps({"auth": True, "sid": "s" * 24, "scope": ["acme"], "csrf": "x" * 32}).encode()
    )
    web.cookies.set(
        "avflow_session", itsdangerous.TimestampSigner(session_key(TOKEN)).sign(data).decode()
    )
    assert web.get("/clients/acme").status_code == 200
    home = web.get("/").text
    assert "Acme" in home and "Beta" not in home
    for path in (
        "/clients/beta",
        "/clients/beta/runs",
        f"/clients/beta/runs/{run.id}",
        "/clients/beta/audit",
        "/clients/beta/approvals",
    ):
        r = web.get(path)
        assert r.status_code == 404 and "Beta" not in r.text and run.id not in r.text, path
    assert "Beta" not in web.get("/attention").text


def test_a_run_row_written_unredacted_is_masked_on_the_page(h: Any, logged: Any) -> None:
    """A secret a process never used (so never registered) is still masked on every page."""
    from avflow import redact

    h.client("acme")
    h.workflow("acme", "inbox", WF_FIRES)
    run = h.run("acme/inbox")
    h.secret("acme", "mail", "canary-Zq81xV0pLm")
    redact.forget_all()  # a fresh service process: the value is not known yet
    con = sqlite3.connect(h.home / "state.db")
    con.execute(
        "UPDATE runs SET status = 'failed', error = ? WHERE id = ?",
        ("login canary-Zq81xV0pLm refused", run.id),
    )
    con.commit()
    con.close()
    page = logged.get(f"/clients/acme/runs/{run.id}").text
    assert "canary-Zq81xV0pLm" not in page and "login [REDACTED] refused" in page
