"""Every condition and action of email.triage, against Dovecot and against a Maildir."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from avflow_email.message import parse_headers
from avflow_email.outputs import TriageOutputs
from email_testkit import make_mail, setup_client


def ids(box, folder: str = "INBOX") -> set[str]:  # type: ignore[no-untyped-def]
    return set(box.contents(folder))


def test_plugin_is_installed(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    reg = avflow_harness.pm.registry
    # Personal data, as the plugin's outputs model declares it (masked in audit trails).
    assert {"subject", "from", "sender", "to", "name"} <= reg.personal
    assert not {"folder", "rule", "destination", "message_id"} & reg.personal
    assert "email.triage" in reg.actions
    assert {"imap", "maildir"} <= set(reg.account_types)
    assert "email.new_mail" in reg.triggers


def test_text_conditions(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("Fattura n. 12", mid="<a@t>"))
    box.add(make_mail("Weekly", sender="News <no-reply@news.example>", mid="<b@t>"))
    box.add(make_mail("Ordine", to="boss@acme.example", mid="<c@t>"))
    box.add(make_mail("Urgente", headers={"Cc": "legal@acme.example"}, mid="<d@t>"))
    box.add(make_mail("ticket #4411 opened", mid="<e@t>"))
    box.add(make_mail("exact", mid="<f@t>"))
    box.add(make_mail("Case", body="il PREVENTIVO è pronto", mid="<g@t>"))
    box.add(make_mail("nothing", mid="<h@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[
            {"name": "invoices", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]},
            {
                "name": "news",
                "match": {"from": {"contains": ["news.example", "other.example"]}},
                "actions": [{"move": "News"}],
            },
            {
                "name": "to boss",
                "match": {"to": {"equals": "BOSS@acme.example"}},
                "actions": [{"move": "Boss"}],
            },
            {
                "name": "cc legal",
                "match": {"cc": {"contains": "legal@"}},
                "actions": [{"move": "Legal"}],
            },
            {
                "name": "tickets",
                "match": {"subject": {"regex": r"#\d{4}\b"}},
                "actions": [{"move": "Tickets"}],
            },
            {
                "name": "exact",
                "match": {"subject": {"equals": "Exact", "case_sensitive": True}},
                "actions": [{"move": "Never"}],
            },
            {
                "name": "body",
                "match": {"body": {"contains": "preventivo"}},
                "actions": [{"move": "Preventivi"}],
            },
        ],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert ids(box, "Fatture") == {"<a@t>"}
    assert ids(box, "News") == {"<b@t>"}
    assert ids(box, "Boss") == {"<c@t>"}
    assert ids(box, "Legal") == {"<d@t>"}
    assert ids(box, "Tickets") == {"<e@t>"}
    assert ids(box, "Preventivi") == {"<g@t>"}
    assert ids(box) == {"<f@t>", "<h@t>"}  # case-sensitive "Exact" != "exact"
    out = result.outputs["triage"]
    assert out["rules"] == {
        "invoices": 1,
        "news": 1,
        "to boss": 1,
        "cc legal": 1,
        "tickets": 1,
        "body": 1,
    }
    assert out["destinations"]["Fatture"] == 1
    assert {m["message_id"] for m in out["messages"]} == {
        "<a@t>",
        "<b@t>",
        "<c@t>",
        "<d@t>",
        "<e@t>",
        "<g@t>",
    }
    assert next(m for m in out["messages"] if m["message_id"] == "<a@t>")["rule"] == "invoices"


def test_encoded_words_are_decoded(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_Garc=C3=ADa?= <jose@example.es>\r\nTo: a@b.example\r\n"
        b"Subject: =?utf-8?b?UHJlbm90YXppb25lIGNvbmZlcm1hdGEg4pyT?=\r\nMessage-ID: <enc@t>\r\n"
        b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody\r\n"
    )
    box.add(raw)
    box.add(make_mail("Città", sender="Zoë <zoe@example.it>", mid="<enc2@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "booking",
                "match": {"subject": {"contains": "prenotazione confermata ✓"}},
                "actions": [{"move": "Prenotazioni"}],
            },
            {"name": "josé", "match": {"from": "García"}, "actions": ["flag"]},
            {
                "name": "zoë",
                "match": {"all": [{"from": "zoë"}, {"subject": "CITTÀ"}]},
                "actions": ["flag"],
            },
        ],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert ids(box, "Prenotazioni") == {"<enc@t>"}
    assert "\\Flagged" in box.contents()["<enc2@t>"]
    handled = result.outputs["triage"]["messages"]
    assert any(m["subject"] == "Prenotazione confermata ✓" for m in handled)


SEPARATORS = {"u2028": "\u2028", "u2029": "\u2029", "formfeed": "\f", "u0085": "\u0085"}


def test_headers_split_only_at_crlf_and_lf() -> None:
    """RFC 5322: a header line ends at CRLF (LF on disk), not at what str.splitlines splits."""
    for sep in [*SEPARATORS.values(), "\r", "\x1c", "\x1e", "\v"]:
        raw = f"Subject: Avviso{sep}Fattura n. 5\r\nFrom: a@b.example\nX-A: 1\r\n".encode()
        headers = parse_headers(raw)
        assert headers["subject"] == [f"Avviso{sep}Fattura n. 5"], repr(sep)
        assert headers["from"] == ["a@b.example"] and headers["x-a"] == ["1"]
        assert len(headers) == 3


def test_raw_utf8_subject_with_line_separators(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    for name, sep in SEPARATORS.items():
        box.add(
            f"From: Ufficio <ufficio@example.it>\r\nTo: a@b.example\r\n"
            f"Subject: Avviso{sep}Fattura n. 5\r\nMessage-ID: <{name}@t>\r\n"
            f"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody\r\n".encode()
        )
    box.add(make_mail("Avviso senza nulla", mid="<plain@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert ids(box, "Fatture") == {f"<{n}@t>" for n in SEPARATORS}
    assert ids(box) == {"<plain@t>"}
    subjects = {m["subject"] for m in result.outputs["triage"]["messages"]}
    assert {f"Avviso{sep}Fattura n. 5" for sep in SEPARATORS.values()} <= subjects
    if box.kind == "imap":  # Dovecot's own SEARCH agrees
        c = box.client()
        try:
            c.select_folder("Fatture", readonly=True)
            assert len(c.search(["SUBJECT", "Fattura"])) == len(SEPARATORS)
        finally:
            c.logout()


def test_header_list_size_age_and_combinators(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("a", headers={"X-Priority": "1 (Highest)"}, mid="<hdr@t>"))
    box.add(make_mail("b", headers={"List-Id": "<soci.club.example>"}, mid="<list@t>"))
    box.add(make_mail("c", headers={"X-Spam-Flag": "YES"}, mid="<spam@t>"))
    box.add(make_mail("big", body="x" * 60_000, mid="<big@t>"))
    box.add(make_mail("old", date="Mon, 05 Jan 2026 08:00:00 +0000", mid="<old@t>"))
    box.add(make_mail("keep me", mid="<keep@t>"))
    box.add(make_mail("any-not", sender="x@partner.example", mid="<anynot@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "spam",
                "match": {"header": {"name": "X-Spam-Flag", "equals": "yes"}},
                "actions": [{"move": "Junk"}],
            },
            {
                "name": "priority",
                "match": {"header": {"name": "x-priority", "exists": True}},
                "actions": ["flag"],
            },
            {"name": "lists", "match": {"mailing_list": True}, "actions": [{"move": "Liste"}]},
            {
                "name": "big",
                "match": {"size": {"larger_than": "50KB"}},
                "actions": [{"move": "Grandi"}],
            },
            {
                "name": "old",
                "match": {"age": {"older_than": "30d"}},
                "actions": [{"move": "Archivio"}],
            },
            {
                "name": "partner",
                "match": {
                    "any": [{"from": "partner.example"}, {"subject": "zzz"}],
                    "not": {"subject": "keep"},
                },
                "actions": [{"move": "Partner"}],
            },
        ],
    )
    avflow_harness.clock.set("2026-03-01T10:00:00+00:00")
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert ids(box, "Junk") == {"<spam@t>"}
    assert "\\Flagged" in box.contents()["<hdr@t>"]
    assert ids(box, "Liste") == {"<list@t>"}
    assert ids(box, "Grandi") == {"<big@t>"}
    assert ids(box, "Archivio") == {"<old@t>"}
    assert ids(box, "Partner") == {"<anynot@t>"}
    assert ids(box) == {"<hdr@t>", "<keep@t>"}


def test_attachment_conditions_and_collect(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    pdf = b"%PDF-1.4 fattura"
    box.add(
        make_mail(
            "Fattura marzo",
            sender="Enel <fatture@enel.it>",
            mid="<pdf@t>",
            attachments=[
                ("fattura_03.pdf", "application/pdf", pdf),
                ("logo.png", "image/png", b"\x89PNG...."),
            ],
        )
    )
    box.add(
        make_mail("Foto", mid="<img@t>", attachments=[("foto.jpg", "image/jpeg", b"\xff\xd8jpeg")])
    )
    box.add(make_mail("Nessun allegato", mid="<none@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "invoices",
                "match": {"attachment": {"type": "application/pdf", "name": {"regex": r"\.pdf$"}}},
                "actions": [{"collect_attachments": {"type": "pdf"}}, {"move": "Fatture"}],
            },
            {
                "name": "any attachment",
                "match": {"has_attachment": True},
                "actions": [{"move": "Allegati"}],
            },
            {"name": "without", "match": {"has_attachment": False}, "actions": ["mark_read"]},
        ],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert ids(box, "Fatture") == {"<pdf@t>"}
    assert ids(box, "Allegati") == {"<img@t>"}
    assert "\\Seen" in box.contents()["<none@t>"]
    files = result.outputs["triage"]["attachments"]
    assert [(f["name"], f["type"], f["size"], f["sender"], f["sender_domain"]) for f in files] == [
        ("fattura_03.pdf", "application/pdf", len(pdf), "fatture@enel.it", "enel.it")
    ]
    assert files[0]["subject"] == "Fattura marzo" and files[0]["date"]
    # The run succeeded, so its spool is cleared; the file existed while the run lasted.
    assert files[0]["path"].endswith("fattura_03.pdf")
    TriageOutputs.model_validate(result.outputs["triage"])  # the declared model holds


def test_flag_actions_copy_label_delete(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("one", mid="<1@t>"), flags=("\\Flagged",))
    box.add(make_mail("two", mid="<2@t>"), flags=("\\Seen",))
    box.add(make_mail("three", mid="<3@t>"))
    box.add(make_mail("four", mid="<4@t>"))
    box.create("Trash")
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "one",
                "match": {"subject": {"equals": "one"}},
                "actions": ["unflag", "mark_read"],
            },
            {
                "name": "two",
                "match": {"subject": {"equals": "two"}},
                "actions": ["mark_unread", {"flag": "$Work"}],
            },
            {
                "name": "three",
                "match": {"subject": {"equals": "three"}},
                "actions": [{"copy": "Copie"}, {"label": "clienti"}],
                "continue": True,
            },
            {"name": "three again", "match": {"subject": "three"}, "actions": ["flag"]},
            {"name": "four", "match": {"subject": "four"}, "actions": ["delete"]},
        ],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    inbox = box.contents()
    assert "\\Flagged" not in inbox["<1@t>"] and "\\Seen" in inbox["<1@t>"]
    assert "\\Seen" not in inbox["<2@t>"] and "$Work" in inbox["<2@t>"]
    assert {"\\Flagged", "clienti"} <= inbox["<3@t>"]
    assert ids(box, "Copie") == {"<3@t>"}
    assert ids(box, "Trash") == {"<4@t>"}
    assert "<4@t>" not in inbox
    assert result.outputs["triage"]["rules"]["three again"] == 1
    # Batching: one effect per flag change and per destination, not one per message.
    kinds = sorted(e.kind for e in result.effects)
    assert kinds.count("email.move") == 1 and kinds.count("email.copy") == 1


def test_forward_reply_and_draft(avflow_harness, box, smtp) -> None:  # type: ignore[no-untyped-def]
    box.add(
        make_mail(
            "Richiesta preventivo",
            sender="Anna Bianchi <anna@cliente.example>",
            mid="<q@t>",
            body="Vorrei un preventivo",
        )
    )
    box.add(
        make_mail(
            "Newsletter",
            sender="news@list.example",
            mid="<n@t>",
            headers={"List-Unsubscribe": "<mailto:u@list.example>"},
        )
    )
    box.add(make_mail("Domanda", sender="luca@cliente.example", mid="<d@t>"))
    box.create("Sent")
    box.create("Drafts")
    setup_client(
        avflow_harness,
        box,
        rules=[
            {
                "name": "quotes",
                "match": {"subject": "preventivo"},
                "actions": [
                    {"forward": {"to": ["boss@acme.example"], "note": "Da gestire"}},
                    {
                        "reply": {
                            "template": "Gentile {{ message.from_name }}, abbiamo ricevuto «{{ message.subject }}».",
                            "auto": True,
                        }
                    },
                ],
            },
            {
                "name": "lists",
                "match": {"mailing_list": True},
                "actions": [{"reply": {"template": "no", "auto": True}}],
            },
            {
                "name": "questions",
                "match": {"subject": "domanda"},
                "actions": [
                    {"reply": {"template": "Bozza per {{ message.from_address }}", "draft": True}}
                ],
            },
        ],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    outputs = TriageOutputs.model_validate(result.outputs["triage"])
    assert outputs.sent and all(m.subject for m in outputs.messages)
    rcpts = sorted(tuple(r) for _, r, _ in smtp.messages)
    assert rcpts == [("anna@cliente.example",), ("boss@acme.example",)]  # no auto-reply to the list
    by_rcpt = {r[0]: message_from_bytes(c, policy=policy.default) for _, r, c in smtp.messages}
    fwd, reply = by_rcpt["boss@acme.example"], by_rcpt["anna@cliente.example"]
    assert fwd["Subject"] == "Fwd: Richiesta preventivo"
    assert any(p.get_content_type() == "message/rfc822" for p in fwd.walk())
    assert reply["In-Reply-To"] == "<q@t>" and reply["Auto-Submitted"] == "auto-replied"
    assert (
        "Gentile Anna Bianchi, abbiamo ricevuto «Richiesta preventivo»."
        in reply.get_body().get_content()
    )
    sent = ids(box, "Sent")
    assert {fwd["Message-ID"], reply["Message-ID"]} <= sent
    drafts = box.contents("Drafts")
    assert len(drafts) == 1 and "\\Draft" in next(iter(drafts.values()))
    out = result.outputs["triage"]
    assert out["skipped"] and out["skipped"][0]["reason"].startswith("no auto-reply")
    assert sorted(s["kind"] for s in out["sent"]) == ["draft", "forward", "reply"]


def test_incremental_and_dry_run(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("Fattura 1", mid="<f1@t>"))
    setup_client(
        avflow_harness,
        box,
        rules=[{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}],
    )
    dry = avflow_harness.run("acme/triage", dry_run=True)
    assert dry.status == "succeeded" and not dry.performed()
    assert [e.status for e in dry.effects] == ["dry-run", "dry-run"]  # create folder + move
    assert ids(box) == {"<f1@t>"}
    first = avflow_harness.run("acme/triage")
    assert ids(box, "Fatture") == {"<f1@t>"} and first.outputs["triage"]["scanned"] == 1
    again = avflow_harness.run("acme/triage")
    assert again.outputs["triage"]["scanned"] == 0 and not again.effects
    box.add(make_mail("Fattura 2", mid="<f2@t>"))
    box.add(make_mail("Altro", mid="<x@t>"))
    third = avflow_harness.run("acme/triage")
    assert third.outputs["triage"]["scanned"] == 2
    assert ids(box, "Fatture") == {"<f1@t>", "<f2@t>"}


def test_wrong_folder_is_one_clear_line(avflow_harness, box) -> None:  # type: ignore[no-untyped-def]
    setup_client(
        avflow_harness,
        box,
        folder="Nonexistent",
        rules=[{"name": "x", "match": {"subject": "a"}, "actions": ["flag"]}],
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "failed"
    assert "folder 'Nonexistent' does not exist" in result.error and "\n" not in result.error


def test_bad_rules_are_caught_by_validate(avflow_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from email_testkit import MaildirBox

    b = MaildirBox(tmp_path / "M")
    setup_client(
        avflow_harness,
        b,
        rules=[
            {"name": "x", "match": {"subject": {"regex": "(unclosed"}}, "actions": [{"mvoe": "A"}]}
        ],
    )
    _, errors = avflow_harness.app.load()
    text = "\n".join(str(e) for e in errors)
    assert "bad regular expression" in text
    assert "triage.yaml:" in text
