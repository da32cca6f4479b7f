"""The failure notifier against a real SMTP server (aiosmtpd) in this process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sched_helpers import PLUGINS, client, write

from avflow.clock import FakeClock
from avflow.errors import ConfigError
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service
from avflow.scheduler.settings import ServiceSettings, load_settings


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield inbox, port
    ctl.stop()


def day(project: Path, port: int, when: str) -> int:
    settings = ServiceSettings.model_validate(
        {
            "notify": {
                "email": {
                    "to": "ava@example.com",
                    "from": "avflow@example.com",
                    "batch": "30s",
                    "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
                }
            }
        }
    )
    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    return Service(
        project / "workflows",
        project / "home",
        pm,
        clock=FakeClock(when),
        settings=settings,
        once=True,
    ).run()


FAIL = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: fx.fail, with: {message: "mailbox unreachable"}, retry: 3}]\n'
OK = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: core.log, with: {message: fine}}]\n'


def test_one_email_per_failure_burst(project: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    client(project, "acme")
    client(project, "bravo", extra="notify: {email: boss@bravo.example}\n")
    write(project / "workflows/acme/inbox.yaml", FAIL)
    write(project / "workflows/acme/invoices.yaml", FAIL)
    write(project / "workflows/bravo/posts.yaml", OK)
    assert day(project, port, "2026-03-02T09:00:05Z") == 1
    assert (
        len(inbox.messages) == 1
    )  # both acme failures, one message (not one per retry, not one per workflow)
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["ava@example.com"]
    assert "acme/inbox" in msg["Subject"] and "acme/invoices" in msg["Subject"]
    assert "mailbox unreachable" in msg.get_payload()

    assert (
        day(project, port, "2026-03-03T09:00:05Z") == 1
    )  # still failing: the same burst, no message
    assert len(inbox.messages) == 1

    write(project / "workflows/acme/inbox.yaml", OK)  # inbox recovers
    write(project / "workflows/bravo/posts.yaml", FAIL)  # bravo starts failing
    assert day(project, port, "2026-03-04T09:00:05Z") == 1
    assert len(inbox.messages) == 2
    assert inbox.messages[1][0] == ["boss@bravo.example"]  # the client's own notify.email
    assert "bravo/posts" in inbox.messages[1][1]["Subject"]

    write(project / "workflows/acme/inbox.yaml", FAIL)  # a new burst for inbox
    assert day(project, port, "2026-03-05T09:00:05Z") == 1
    assert len(inbox.messages) == 3
    subject = inbox.messages[2][1]["Subject"]
    assert "acme/inbox" in subject and "acme/invoices" not in subject


def test_settings_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(
        "concurrency:\n  max_runs: 0\nnotify:\n  email:\n    smtp: {host: x, password: hunter2}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    text = str(exc.value)
    assert f"{path}:2:" in text and f"{path}:5:" in text and "${env:NAME}" in text
    assert "hunter2" not in text
    path.write_text("concurrency: {max_runs: 3}\nstop_timeout: 5s\n")
    settings = load_settings(path)
    assert settings.concurrency.max_runs == 3 and settings.stop_timeout == 5.0
