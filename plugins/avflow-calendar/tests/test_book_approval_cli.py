"""``calendar.book`` with ``approval:`` on a real Radicale, decided from the command line:
``avflow approvals``, ``approve``, ``reject``; the service SIGKILLed while the run waits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from calhelp import caldav_client
from radicale_server import event_uids

from avflow.testing import ServiceProcess

STEP = {
    "id": "book",
    "uses": "calendar.book",
    "with": {
        "account": "cal",
        "start": "2030-03-12T15:00",
        "duration_minutes": 30,
        "title": "Consulenza",
        "attendees": ["anna@example.com"],
        "approval": {"summary": "Book Anna's first visit?", "timeout": "4h", "default": "reject"},
    },
}
PREVIEW = "book 'Consulenza' on Tue 12 Mar 2030, 15:00-15:30 CET in calendar cal"


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for svc in started:
        svc.kill()


def project(h, radicale, on: dict | None = None) -> str:  # type: ignore[no-untyped-def]
    url = radicale.new_calendar()
    caldav_client(h, "acme", "Europe/Rome", {"cal": url})
    h.workflow("acme", "book", {**({"on": on} if on else {}), "steps": [STEP]})
    return urlsplit(url).path


def pending_id(h) -> str:  # type: ignore[no-untyped-def]
    listed = h.command("approvals", "acme", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    return str(row["id"])


def test_sigkill_while_waiting_then_approve_books_once(  # type: ignore[no-untyped-def]
    avflow_harness, radicale, services: list[ServiceProcess]
) -> None:
    h = avflow_harness
    path = project(h, radicale, on={"schedule": [{"cron": "0 9 * * *"}]})
    first = h.service(start="2026-12-04T07:59:58Z")  # 08:59:58 in Rome
    services.append(first)
    first.wait_log("run waiting for an approval")
    listed = h.command("approvals", "acme")
    assert listed.returncode == 0, listed.stderr
    assert "Book Anna's first visit?" in listed.stdout and PREVIEW in listed.stdout
    assert "attendees: anna@example.com" in listed.stdout
    assert event_uids(radicale.port, path) == []
    approval = pending_id(h)
    first.proc.kill()  # SIGKILL between the request and the decision
    assert first.proc.wait(10) == -9

    second = h.service(start="2026-12-04T08:05:00Z")
    services.append(second)
    second.wait_log("service started")
    assert pending_id(h) == approval  # still there after the kill
    approved = h.command("approve", approval)
    assert approved.returncode == 0, approved.stderr
    assert "the running service takes the run up" in approved.stdout
    second.wait_log("run finished", status="succeeded")
    assert len(event_uids(radicale.port, path)) == 1
    again = h.command("approve", approval)
    assert again.returncode == 2 and "already approved" in again.stderr
    second.proc.terminate()
    assert second.proc.wait(120) == 0
    assert len(event_uids(radicale.port, path)) == 1


def test_reject_from_the_cli_books_nothing(avflow_harness, radicale) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    path = project(h, radicale)
    asked = h.command("trigger", "acme/book")
    assert "waiting" in asked.stdout + asked.stderr, asked.stdout + asked.stderr
    approval = pending_id(h)
    no_reason = h.command("reject", approval)
    assert no_reason.returncode == 2  # a rejection says why
    rejected = h.command("reject", approval, "--reason", "wrong slot")
    assert rejected.returncode == 0, rejected.stderr
    assert "rejected" in rejected.stdout
    assert event_uids(radicale.port, path) == []
    assert "no approvals waiting" in h.command("approvals", "acme").stdout
