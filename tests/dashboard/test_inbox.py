"""The approvals inbox through Starlette's TestClient: what it shows, deciding, client scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avflow import approvals
from avflow.dashboard.inbox import decider


def _post_workflow(h: Any, client: str, out: Path, **approval: Any) -> None:
    h.client(
        client,
        name=client.title(),
        timezone="Europe/Rome",
        working_hours={"mon-fri": "09:00-18:00"},
    )
    h.workflow(
        client,
        "post",
        {
            "name": "Post",
            "steps": [
                {
                    "id": "check",
                    "uses": "core.approval",
                    "with": {"summary": f"Publish the {client} winter post?", **approval},
                },
                {"id": "publish", "uses": "fx.write", "with": {"path": str(out), "lines": 2}},
            ],
        },
    )


def _waiting(h: Any, client: str) -> approvals.Approval:
    run = h.run(f"{client}/post")
    assert run.status == "waiting"
    [pending] = approvals.pending(h.app, client)
    return pending


def _csrf(web: Any) -> str:
    from dashboard_testkit import csrf_of

    return csrf_of(web.get("/").text)


def test_the_inbox_shows_what_waits_with_its_preview_and_deadline(
    h: Any, logged: Any, tmp_path: Path
) -> None:
    _post_workflow(h, "acme", tmp_path / "acme.txt", timeout="2h", default="reject")
    pending = _waiting(h, "acme")
    for path in ("/approvals", "/clients/acme/approvals", "/clients/acme"):
        page = logged.get(path).text
        assert "Publish the acme winter post?" in page, path
        assert "write line 0 to acme.txt" in page and "write line 1 to acme.txt" in page, path
        assert f"/clients/acme/approvals/{pending.id}/approve" in page, path
        assert "Mon 2026-01-05 12:00 CET: reject" in page, path  # 2 working hours from 10:00
    home = logged.get("/").text
    assert "1 approval(s) waiting" in home and 'href="/clients/acme/approvals">1<' in home
    fragment = logged.get("/approvals", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<section id="inbox"')


def test_approve_from_the_dashboard_then_the_run_finishes(
    h: Any, logged: Any, tmp_path: Path
) -> None:
    out = tmp_path / "acme.txt"
    _post_workflow(h, "acme", out)
    pending = _waiting(h, "acme")
    r = logged.post(
        f"/clients/acme/approvals/{pending.id}/approve",
        data={"csrf": _csrf(logged), "next": "/approvals"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/approvals"
    decided = approvals.get(h.app, pending.id)
    assert decided.status == "approved" and decided.decided_by == decider()
    assert decider().endswith("(dashboard)")
    records = [r for r in h.audit("acme") if r.get("event") == "approval.decided"]
    assert records and records[-1]["details"]["by"] == decider()
    assert "Nothing waits for a decision." in logged.get("/approvals").text
    outcome = h.app.engine.resume_waiting(h.find("acme/post"), pending.id)
    assert outcome is not None and outcome.status == "succeeded"
    assert out.read_text().count("acme/post") == 2
    again = logged.post(
        f"/clients/acme/approvals/{pending.id}/reject",
        data={"csrf": _csrf(logged), "reason": "late"},
    )
    assert again.status_code == 409 and f"already approved by {decider()}" in again.text


def test_reject_needs_a_reason_then_stops_the_run(h: Any, logged: Any, tmp_path: Path) -> None:
    out = tmp_path / "acme.txt"
    _post_workflow(h, "acme", out)
    pending = _waiting(h, "acme")
    r = logged.post(
        f"/clients/acme/approvals/{pending.id}/reject", data={"csrf": _csrf(logged), "reason": "  "}
    )
    assert r.status_code == 400 and approvals.get(h.app, pending.id).status == "pending"
    r = logged.post(
        f"/clients/acme/approvals/{pending.id}/reject",
        data={"csrf": _csrf(logged), "reason": "wrong photo", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/clients/acme/approvals"
    decided = approvals.get(h.app, pending.id)
    assert (decided.status, decided.reason) == ("rejected", "wrong photo")
    outcome = h.app.engine.resume_waiting(h.find("acme/post"), pending.id)
    assert outcome is not None and outcome.status == "rejected"
    assert not out.exists()


def test_client_as_approval_cannot_be_decided_through_client_bs_url(
    h: Any, logged: Any, tmp_path: Path
) -> None:
    _post_workflow(h, "acme", tmp_path / "acme.txt")
    _post_workflow(h, "beta", tmp_path / "beta.txt")
    acme = _waiting(h, "acme")
    csrf = _csrf(logged)
    for verb, data in (("approve", {}), ("reject", {"reason": "no"})):
        r = logged.post(f"/clients/beta/approvals/{acme.id}/{verb}", data={"csrf": csrf, **data})
        assert r.status_code == 404, r.text
        assert "Publish the acme" not in r.text
        unknown = logged.post(
            f"/clients/beta/approvals/zzzzzzzzzz/{verb}", data={"csrf": csrf, **data}
        )
        assert unknown.status_code == 404  # the same answer as for an id that does not exist
        assert r.text.replace(acme.id, "ID") == unknown.text.replace("zzzzzzzzzz", "ID")
    assert approvals.get(h.app, acme.id).status == "pending"
    assert "Publish the acme" not in logged.get("/clients/beta/approvals").text
    assert (
        logged.post(f"/clients/nobody/approvals/{acme.id}/approve", data={"csrf": csrf}).status_code
        == 404
    )
    assert approvals.get(h.app, acme.id).status == "pending"
