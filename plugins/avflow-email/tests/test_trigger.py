"""The email.new_mail trigger's watch, run directly against Dovecot and a Maildir."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from avflow_email.settings import ImapSettings, MaildirSettings
from avflow_email.trigger import NewMailParams, watch
from email_testkit import ImapBox, MaildirBox, make_mail

import avflow
from avflow.paths import Confinement


class Watching:
    """Runs ``watch`` in a thread and collects what it fires."""

    def __init__(self, account: avflow.Account[Any], **params: Any) -> None:
        self.fired: queue.Queue[dict[str, Any]] = queue.Queue()
        root = Path(getattr(account.settings, "path", "/nonexistent"))
        paths = Confinement.build("acme", root / "no-client", [root], home=root.parent / "no-home")
        client = avflow.ClientInfo("acme", "Acme", "UTC", __import__("datetime").UTC, paths=paths)
        self.ctx = avflow.TriggerContext(
            client=client,
            workflow="triage",
            account=lambda name: account,
            fire=lambda payload: self.fired.put(dict(payload)),
            log=structlog.get_logger("test"),
        )
        self.thread = threading.Thread(
            target=watch, args=(self.ctx, NewMailParams(account="mail", **params)), daemon=True
        )
        self.thread.start()

    def next(self, timeout: float = 10) -> dict[str, Any]:
        return self.fired.get(timeout=timeout)

    def stop(self) -> float:
        started = time.monotonic()
        self.ctx.stopping.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "watch did not return after stopping was set"
        return time.monotonic() - started


def _imap_account(box: ImapBox) -> avflow.Account[Any]:
    s = ImapSettings(
        host="127.0.0.1",
        port=box.server.port,
        security="none",
        username=box.user,
        password="secret",
    )
    return avflow.Account("mail", "imap", s)


def _wait_connected(dovecot: Any, n: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(dovecot.imap_pids()) < n:
        assert time.monotonic() < deadline, "the watch never connected"
        time.sleep(0.05)
    time.sleep(0.3)  # let it enter IDLE


def test_idle_fires_on_new_mail_and_survives_a_dropped_connection(dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    box.add(make_mail("already there", mid="<old@t>"))
    w = Watching(_imap_account(box), liveness=30)
    try:
        _wait_connected(dovecot)
        box.add(make_mail("nuova", mid="<new1@t>"))
        event = w.next()
        assert event["count"] == 1 and event["folder"] == "INBOX" and event["account"] == "mail"
        assert w.fired.empty()  # the message that was already there did not fire
        # The server side of the connection dies; mail arrives meanwhile; the watch reconnects.
        assert dovecot.signal_connections() == 1
        box.add(make_mail("durante", mid="<new2@t>"))
        event = w.next(timeout=15)
        assert event["count"] == 1 and event["uids"] == [3]
    finally:
        assert w.stop() < 5


def test_idle_with_frequent_liveness_checks(dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    w = Watching(_imap_account(box), liveness=0.3)
    try:
        _wait_connected(dovecot)
        time.sleep(1.5)  # several IDLE -> DONE, NOOP -> IDLE cycles on one connection
        assert len(dovecot.imap_pids()) == 1
        box.add(make_mail("dopo", mid="<l1@t>"))
        assert w.next()["count"] == 1
    finally:
        w.stop()


def test_polling_without_idle(dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    w = Watching(_imap_account(box), idle=False, poll_interval=0.2)
    try:
        _wait_connected(dovecot)
        box.add(make_mail("a", mid="<p1@t>"))
        box.add(make_mail("b", mid="<p2@t>"))
        got = w.next()
        while got["count"] < 2:
            got = {"count": got["count"] + w.next()["count"]}
        assert got["count"] == 2
    finally:
        w.stop()


def test_maildir_is_polled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    box = MaildirBox(tmp_path / "Mail")
    box.add(make_mail("old", mid="<m0@t>"))
    account = avflow.Account("mail", "maildir", MaildirSettings(path=str(box.root)))
    w = Watching(account, poll_interval=0.1)
    try:
        time.sleep(0.3)
        box.add(make_mail("new", mid="<m1@t>"))
        event = w.next()
        assert event["count"] == 1
    finally:
        w.stop()


def test_server_gone_is_retried_quietly(dovecot) -> None:  # type: ignore[no-untyped-def]
    from dovecot import free_port

    s = ImapSettings(
        host="127.0.0.1", port=free_port(), security="none", username="x", password="y"
    )
    w = Watching(avflow.Account("mail", "imap", s))
    time.sleep(1.5)
    assert w.thread.is_alive()  # it keeps trying instead of dying
    with pytest.raises(queue.Empty):
        w.next(timeout=0.1)
    assert w.stop() < 5
