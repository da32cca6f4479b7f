"""A reply template that fails at run time fails the triage step before any effect: no folder
made, no flag set, nothing forwarded, moved or sent (issue 10), against Dovecot and a Maildir."""

from __future__ import annotations

from email_testkit import make_mail, setup_client


def test_a_failing_reply_template_changes_nothing(avflow_harness, box, smtp) -> None:  # type: ignore[no-untyped-def]
    box.add(make_mail("Fattura 7", sender="a@fornitore.example", mid="<f@t>"))
    box.add(make_mail("Richiesta appuntamento", sender="Anna <anna@c.example>", mid="<q@t>"))
    box.create("Sent")
    before = {folder: box.contents(folder) for folder in ("INBOX", "Sent")}
    setup_client(
        avflow_harness,
        box,
        rules=[
            {"name": "invoices", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]},
            {
                "name": "appointments",
                "match": {"subject": "appuntamento"},
                "actions": [
                    "flag",
                    {"forward": {"to": ["boss@acme.example"]}},
                    {"move": "Appuntamenti"},
                    {"reply": {"template": "Gentile {{ message.from_name }} {{ 1 // 0 }}"}},
                ],
            },
        ],
        create_folders=True,
    )
    result = avflow_harness.run("acme/triage")
    assert result.status == "failed"
    assert "reply template: integer division or modulo by zero" in (result.error or "")
    assert "nothing was changed in the mailbox" in (result.error or "")
    assert [e for e in result.effects if e.status != "dry-run"] == []
    assert smtp.messages == []
    assert {folder: box.contents(folder) for folder in ("INBOX", "Sent")} == before
    assert box.contents("Fatture") == {} and box.contents("Appuntamenti") == {}


def test_an_unknown_attribute_of_message_is_a_validation_error(avflow_harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`avflow validate` knows what a reply template's ``message`` holds (docs/email.md)."""
    h = avflow_harness
    maildir = tmp_path / "Maildir"
    h.client(
        "acme",
        accounts={"mail": {"type": "maildir", "path": str(maildir), "address": "a@acme.example"}},
        roots=[str(tmp_path)],
    )
    reply = {
        "template": "{{ message.from_name }}: {{ message.subjet }} {{ message.get('body') }}",
        "subject": "Re: {{ message.subject }}",
    }
    rules = [{"name": "all", "match": {"subject": "x"}, "actions": [{"reply": reply}]}]
    path = h.workflow(
        "acme",
        "triage",
        {"steps": [{"uses": "email.triage", "with": {"account": "mail", "rules": rules}}]},
    )
    _, errors = h.app.load()
    assert [str(e).split(": ", 1)[1] for e in errors] == [
        "'message' has no attribute 'subjet' (did you mean message.subject?)"
    ]
    assert str(errors[0]).startswith(f"{path}:")
