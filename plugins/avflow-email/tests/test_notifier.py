"""The ``email`` failure notifier: service.yaml ``notify: email:``, delivered to aiosmtpd."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from avflow.clock import FakeClock
from avflow.errors import ConfigError
from avflow.scheduler.service import Service
from avflow.scheduler.settings import load_settings

FAIL = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: core.fail, with: {message: "mailbox unreachable"}}]\n'
OK = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: core.log, with: {message: fine}}]\n'


def service_yaml(home: Path, port: int) -> Path:
    path = home / "service.yaml"
    path.write_text(
        "notify:\n"
        "  email:\n"
        "    to: ava@example.com\n"
        "    from: avflow@example.com\n"
        "    batch: 30s\n"
        f"    smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n"
    )
    return path


def day(h: Any, when: str) -> int:
    settings = load_settings(h.home / "service.yaml", notifiers=h.pm.registry.notifiers)
    return Service(
        h.workflows, h.home, h.pm, clock=FakeClock(when), settings=settings, once=True
    ).run()


def test_failures_are_mailed_once_per_burst(avflow_harness, smtp) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    service_yaml(h.home, smtp.port)
    h.client("acme")
    h.client("bravo", notify={"email": "boss@bravo.example"})
    h.workflow("acme", "inbox", FAIL)
    h.workflow("acme", "invoices", FAIL)
    h.workflow("bravo", "posts", OK)
    assert day(h, "2026-03-02T09:00:05Z") == 1
    assert len(smtp.messages) == 1  # both acme failures in one message
    sender, rcpt, raw = smtp.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert (sender, rcpt) == ("avflow@example.com", ["ava@example.com"])
    assert "acme/inbox" in msg["Subject"] and "acme/invoices" in msg["Subject"]
    assert "mailbox unreachable" in msg.get_content()

    assert day(h, "2026-03-03T09:00:05Z") == 1  # still failing: no message
    assert len(smtp.messages) == 1

    h.workflow("bravo", "posts", FAIL)
    assert day(h, "2026-03-04T09:00:05Z") == 1
    assert len(smtp.messages) == 2
    assert smtp.messages[1][1] == ["boss@bravo.example"]  # the client's own notify.email
    assert "bravo/posts" in message_from_bytes(smtp.messages[1][2])["Subject"]


def test_notify_email_settings_errors_name_their_line(avflow_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "service.yaml"
    path.write_text(
        "notify:\n  email:\n    to: a@b.example\n    smtp: {host: x, password: hunter2}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path, notifiers=avflow_harness.pm.registry.notifiers)
    text = str(exc.value)
    assert f"{path}:4:" in text and "${env:NAME}" in text and "hunter2" not in text
    path.write_text("notify:\n  email:\n    smtp: {host: x, security: ssl}\n    batch: 2m\n")
    settings = load_settings(path, notifiers=avflow_harness.pm.registry.notifiers)
    assert settings.notify["email"].smtp.sender_settings().effective_port == 465
    assert settings.notify["email"].batch == 120.0


def test_a_notice_to_the_client_is_in_the_clients_language(avflow_harness, smtp) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    service_yaml(h.home, smtp.port)
    h.client("acme")  # no address of its own: the AV's notice, in English
    h.client("rossi", notify={"email": "studio@rossi.example"}, language="it")
    h.workflow("acme", "inbox", FAIL)
    h.workflow("rossi", "scanner", FAIL)
    assert day(h, "2026-03-02T09:00:05Z") == 1
    by_rcpt = {
        tuple(rcpt): message_from_bytes(raw, policy=policy.default)
        for _, rcpt, raw in smtp.messages
    }
    italian, english = by_rcpt[("studio@rossi.example",)], by_rcpt[("ava@example.com",)]
    assert "non riuscito" in italian["Subject"] and "rossi/scanner" in italian["Subject"]
    assert "Questi flussi di lavoro non sono riusciti" in italian.get_content()
    assert "errore: " in italian.get_content() and "mailbox unreachable" in italian.get_content()
    assert english["Subject"] == "avflow: 1 workflow failing: acme/inbox"
    assert "These workflows failed" in english.get_content()
