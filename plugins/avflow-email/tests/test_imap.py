"""IMAP behaviour against Dovecot: folders, big folders, UIDVALIDITY, dropped connections, TLS,
errors, and exactly-once through in-process interruptions."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from email_testkit import ImapBox, make_mail, setup_client, triage_workflow

from avflow.testing import SimulatedCrash, check_action_contract

INVOICES = [{"name": "invoices", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}]


def test_non_ascii_folder_names(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    source, dest = "Posta in arrivo/Clienti àèé", "Fatture/Città €"
    box.add(make_mail("Fattura 7", mid="<u1@t>"), folder=source)
    box.add(make_mail("altro", mid="<u2@t>"), folder=source)
    setup_client(
        avflow_harness,
        box,
        folder=source,
        rules=[{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": dest}]}],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert set(box.contents(dest)) == {"<u1@t>"}
    assert set(box.contents(source)) == {"<u2@t>"}
    assert result.outputs["triage"]["destinations"] == {dest: 1}


@pytest.mark.slow
def test_five_thousand_messages(avflow_harness, imap_box: ImapBox) -> None:  # type: ignore[no-untyped-def]
    mails = [
        make_mail(
            f"{'Fattura' if i % 3 == 0 else 'Nota'} {i}",
            mid=f"<big{i}@t>",
            headers={"List-Id": "<l.example>"} if i % 5 == 0 else None,
        )
        for i in range(5000)
    ]
    imap_box.add_many(mails)
    imap_box.account["fetch_chunk"] = 250  # many pipelined FETCHes, answered in parallel
    setup_client(
        avflow_harness,
        imap_box,
        rules=[
            *INVOICES,
            {
                "name": "lists",
                "match": {"mailing_list": True},
                "actions": ["mark_read", {"move": "Liste"}],
            },
            {"name": "rest", "match": {"subject": "nota 1"}, "actions": ["flag"]},
        ],
    )
    started = time.monotonic()
    result = avflow_harness.run("acme/triage")
    elapsed = time.monotonic() - started
    assert result.status == "succeeded", result.error
    invoices = {f"<big{i}@t>" for i in range(5000) if i % 3 == 0}
    lists = {f"<big{i}@t>" for i in range(5000) if i % 5 == 0 and i % 3 != 0}
    assert set(imap_box.contents("Fatture")) == invoices
    liste = imap_box.contents("Liste")
    assert set(liste) == lists and all("\\Seen" in f for f in liste.values())
    inbox = imap_box.contents()
    assert len(inbox) == 5000 - len(invoices) - len(lists)
    assert result.outputs["triage"]["scanned"] == 5000
    # One effect for the moves and flag changes (over two connections at once), not one per
    # message.
    assert Counter(e.kind for e in result.effects) == {"email.move": 1, "email.create_folder": 2}
    assert elapsed < 60


def test_uid_star_returns_the_last_message(avflow_harness, imap_box: ImapBox) -> None:  # type: ignore[no-untyped-def]
    imap_box.add(make_mail("Nota", mid="<only@t>"))
    setup_client(
        avflow_harness,
        imap_box,
        rules=[{"name": "n", "match": {"subject": "nota"}, "actions": ["flag"]}],
    )
    assert avflow_harness.run("acme/triage").outputs["triage"]["scanned"] == 1
    # UIDNEXT moves on (a message arrives and is expunged elsewhere), the last message stays.
    imap_box.add(make_mail("transient", mid="<gone@t>"))
    c = imap_box.client()
    c.select_folder("INBOX")
    c.delete_messages(c.search(["HEADER", "Message-ID", "<gone@t>"]))
    c.expunge()
    c.remove_flags(c.search("ALL"), ["\\Flagged"])
    c.logout()
    again = avflow_harness.run("acme/triage")
    assert again.outputs["triage"]["scanned"] == 0  # "UID 3:*" answered UID 1: not new
    assert "\\Flagged" not in imap_box.contents()["<only@t>"]


def test_uidvalidity_change_forces_a_rescan(avflow_harness, imap_box: ImapBox) -> None:  # type: ignore[no-untyped-def]
    imap_box.add_many([make_mail(f"Nota {i}", mid=f"<a{i}@t>") for i in range(3)], folder="Lavoro")
    setup_client(
        avflow_harness,
        imap_box,
        folder="Lavoro",
        rules=[{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}],
    )
    assert avflow_harness.run("acme/triage").outputs["triage"]["scanned"] == 3
    c = imap_box.client()
    c.delete_folder("Lavoro")
    c.create_folder("Lavoro")
    c.logout()
    imap_box.add(make_mail("Fattura 1", mid="<new1@t>"), folder="Lavoro")  # UID 1 again
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    out = result.outputs["triage"]
    assert out["uidvalidity_changed"] is True and out["scanned"] == 1
    assert set(imap_box.contents("Fatture")) == {"<new1@t>"}
    notes = [r for r in result.audit if r["event"] == "step.note"]
    assert notes and "UIDVALIDITY" in notes[0]["description"]


def test_connection_dropped_mid_run_is_retried(avflow_harness, imap_box: ImapBox, dovecot) -> None:  # type: ignore[no-untyped-def]
    mails = [
        make_mail(("Fattura" if i % 2 else "Newsletter") + f" {i}", mid=f"<d{i}@t>")
        for i in range(200)
    ]
    imap_box.add_many(mails)
    setup_client(
        avflow_harness,
        imap_box,
        workflow=triage_workflow(
            retry={"attempts": 3, "backoff": 0},
            rules=[
                {"name": "flag all", "actions": ["flag"], "continue": True},
                *INVOICES,
                {"name": "news", "match": {"subject": "newsletter"}, "actions": [{"move": "News"}]},
            ],
        ),
    )
    killed: list[int] = []

    def drop(phase: str, key: str) -> None:
        if phase == "after" and "/move/" in key and not killed:  # between the two moves
            killed.append(dovecot.signal_connections())  # the server side of the connection dies

    avflow_harness.fault = drop
    result = avflow_harness.run("acme/triage")
    assert killed == [1]
    assert result.status == "succeeded", result.error
    assert any(
        r["event"] == "step.retry" and "connection" in r["description"] for r in result.audit
    )
    fatture, news = imap_box.listing("Fatture"), imap_box.listing("News")
    assert sorted(m for m, _ in fatture) == sorted(f"<d{i}@t>" for i in range(200) if i % 2)
    assert sorted(m for m, _ in news) == sorted(f"<d{i}@t>" for i in range(200) if not i % 2)
    assert all("\\Flagged" in f for _, f in fatture + news)
    assert imap_box.listing() == []


def test_crash_and_resume_repeat_no_effect(avflow_harness, imap_box: ImapBox, smtp) -> None:  # type: ignore[no-untyped-def]
    imap_box.add_many(
        [make_mail(f"Fattura {i}", mid=f"<c{i}@t>") for i in range(5)]
        + [make_mail("Urgente", mid="<urg@t>")]
    )
    imap_box.create("Sent")
    setup_client(
        avflow_harness,
        imap_box,
        rules=[
            {
                "name": "inv",
                "match": {"subject": "fattura"},
                "actions": ["mark_read", {"copy": "Archivio"}, {"move": "Fatture"}],
            },
            {
                "name": "urgent",
                "match": {"subject": "urgente"},
                "actions": [{"forward": "boss@acme.example"}],
            },
        ],
    )

    def remote() -> dict[str, object]:
        return {
            f: sorted(imap_box.listing(f), key=str)
            for f in ("INBOX", "Fatture", "Archivio", "Sent")
        } | {"smtp": len(smtp.messages)}

    check_action_contract(avflow_harness, "acme/triage", remote_state=remote)
    assert sorted(m for m, _ in imap_box.listing("Fatture")) == sorted(
        f"<c{i}@t>" for i in range(5)
    )
    assert sorted(m for m, _ in imap_box.listing("Archivio")) == sorted(
        f"<c{i}@t>" for i in range(5)
    )
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("edge", ["before", "after"])
def test_forward_interrupted_is_sent_once(avflow_harness, box, smtp, edge: str) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("Urgente 1", mid="<f1@t>"))
    box.add(make_mail("Urgente 2", mid="<f2@t>"))
    box.create("Sent")
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "urgent",
                "match": {"subject": "urgente"},
                "actions": [{"forward": "boss@acme.example"}],
            }
        ],
    )
    avflow_harness.crash_at(1, edge)
    with pytest.raises(SimulatedCrash):
        avflow_harness.run("acme/triage")
    assert len(smtp.messages) == (0 if edge == "before" else 1)
    [resumed] = avflow_harness.resume()
    assert resumed.status == "succeeded", resumed.error
    assert len(smtp.messages) == 2 and len(set(smtp.message_ids())) == 2
    assert Counter(m for m, _ in box.listing("Sent")) == {mid: 1 for mid in smtp.message_ids()}
    # A later run does not forward them again.
    avflow_harness.run("acme/triage")
    assert len(smtp.messages) == 2


def test_certificates_are_checked_by_default(avflow_harness, dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    box.add(make_mail("Fattura", mid="<tls@t>"))
    box.account.update(port=dovecot.tls_port, security="tls")
    setup_client(avflow_harness, box, rules=INVOICES)
    refused = avflow_harness.run("acme/triage")
    assert refused.status == "failed"
    assert "certificate was rejected" in refused.error and "\n" not in refused.error
    box.account["ca_file"] = str(dovecot.root / "cert.pem")
    setup_client(avflow_harness, box, rules=INVOICES)
    trusted = avflow_harness.run("acme/triage")
    assert trusted.status == "succeeded", trusted.error
    assert set(box.contents("Fatture")) == {"<tls@t>"}


def test_starttls_with_trusted_ca(avflow_harness, dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    box.add(make_mail("Fattura", mid="<stls@t>"))
    box.account.update(security="starttls", ca_file=str(dovecot.root / "cert.pem"))
    setup_client(avflow_harness, box, rules=INVOICES)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error


def test_user_errors_are_one_clear_line(avflow_harness, dovecot) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(dovecot)
    setup_client(avflow_harness, box, rules=INVOICES)
    avflow_harness.secret("acme", "mail", "wrong-password")
    wrong = avflow_harness.run("acme/triage")
    assert (
        wrong.status == "failed"
        and "login failed" in wrong.error
        and "wrong-password" not in wrong.error
    )
    from dovecot import free_port

    box.account["port"] = free_port()  # nothing listens there: the server is gone
    setup_client(avflow_harness, box, rules=INVOICES)
    gone = avflow_harness.run("acme/triage")
    assert gone.status == "failed" and "cannot connect" in gone.error and "\n" not in gone.error


def test_move_without_the_move_extension_expunges_only_its_own(imap_box: ImapBox) -> None:
    from avflow_email.imap import ImapMailbox
    from avflow_email.settings import ImapSettings

    imap_box.add_many([make_mail(f"m{i}", mid=f"<mv{i}@t>") for i in range(3)])
    imap_box.add(make_mail("someone else's deletion", mid="<theirs@t>"), flags=("\\Deleted",))
    s = ImapSettings(
        host="127.0.0.1",
        port=imap_box.server.port,
        security="none",
        username=imap_box.user,
        password="secret",
    )
    box = ImapMailbox("mail", s)
    try:
        box.caps.discard("MOVE")  # as on a server without RFC 6851: COPY + STORE + UID EXPUNGE
        box.select("INBOX")
        uids = box.new_messages(0)
        box.create_folder("Dest")
        box.create_folder("Copie")
        for _ in range(2):  # repeating either is harmless
            box.move(uids[:2], "Dest")
            box.copy(uids[2:3], "Copie")
    finally:
        box.close()
    assert Counter(m for m, _ in imap_box.listing("Dest")) == {"<mv0@t>": 1, "<mv1@t>": 1}
    assert Counter(m for m, _ in imap_box.listing("Copie")) == {"<mv2@t>": 1}
    assert set(imap_box.contents()) == {"<mv2@t>", "<theirs@t>"}  # not expunged by us


def _box(imap_box: ImapBox):  # type: ignore[no-untyped-def]
    from avflow_email.imap import ImapMailbox
    from avflow_email.settings import ImapSettings

    s = ImapSettings(
        host="127.0.0.1",
        port=imap_box.server.port,
        security="none",
        username=imap_box.user,
        password="secret",
    )
    return ImapMailbox("mail", s)


def test_expunge_issued_while_moving_is_not_a_failure(imap_box: ImapBox) -> None:
    """Issue 12 B: messages another session moved away after ours looked make the server answer
    ``NO [EXPUNGEISSUED]`` and move nothing; the move looks again and moves the others."""
    imap_box.add_many([make_mail(f"m{i}", mid=f"<ei{i}@t>") for i in range(6)])
    imap_box.create("Dest")
    box = _box(imap_box)
    try:
        box.select("INBOX")
        uids = box.new_messages(0)
        other = imap_box.client()  # the killed run's command, still going at the server
        try:
            other.select_folder("INBOX")
            other.move(uids[:2], "Dest")
        finally:
            other.logout()
        box.move(uids, "Dest")
    finally:
        box.close()
    assert Counter(m for m, _ in imap_box.listing("Dest")) == {f"<ei{i}@t>": 1 for i in range(6)}
    assert imap_box.listing() == []


def test_the_imapclient_internals_we_read_are_still_there(imap_box: ImapBox) -> None:
    """imap.py reads pipelined answers off the imaplib connection imapclient keeps; the
    dependency is pinned below the next minor release, and this fails the day that changes."""
    import imaplib

    import imapclient

    major, minor = (int(x) for x in imapclient.__version__.split(".")[:2])
    assert (major, minor) < (4, 2), "imapclient is newer than avflow-email was checked with"
    box = _box(imap_box)
    try:
        assert isinstance(box.client._imap, imaplib.IMAP4)
        assert not box.client._imap.tagged_commands  # nothing of imaplib's is pending
        box.select("INBOX")
        assert box.fetch_items("1:*", ["FLAGS"]) == {}
    finally:
        box.close()


def test_repeat_run_on_an_unchanged_folder_is_one_status(
    avflow_harness, imap_box: ImapBox, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import imaplib

    imap_box.add_many(
        [make_mail(f"Fattura {i}", mid=f"<r{i}@t>") for i in range(3)]
        + [make_mail("x", mid="<x@t>")]
    )
    setup_client(avflow_harness, imap_box, rules=INVOICES)
    sent: list[bytes] = []
    original = imaplib.IMAP4.send

    def record(self: imaplib.IMAP4, data: bytes) -> None:
        sent.append(data)
        original(self, data)

    monkeypatch.setattr(imaplib.IMAP4, "send", record)
    first = avflow_harness.run("acme/triage")
    assert first.status == "succeeded", first.error
    verbs = [d.split(b" ")[1:3] for d in sent]
    assert [b"UID", b"MOVE"] in verbs and [b"UID", b"FETCH"] in verbs
    sent.clear()
    again = avflow_harness.run("acme/triage")
    assert again.status == "succeeded", again.error
    commands = [d.split(b" ")[1].strip().upper() for d in sent]
    # Connecting is imaplib's CAPABILITY and LOGIN; the mailbox work is a single STATUS.
    assert commands[commands.index(b"LOGIN") + 1 :] == [b"STATUS", b"LOGOUT"]
    assert set(commands[: commands.index(b"LOGIN")]) <= {b"CAPABILITY"}
