"""End to end with the email plugin: a Maildir invoice's attachment lands in the archive.

This checks that the item shape the email plugin's ``collect_attachments`` produces is the one
``archive.file`` accepts (docs/archive.md, "Files from an earlier step").
"""

from __future__ import annotations

import mailbox
from email.message import EmailMessage


def _mail(
    sender: str, subject: str, attachment: tuple[str, bytes] | None, msgid: str
) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, "studio@cliente-acme.it", subject
    m["Date"], m["Message-ID"] = "Sat, 14 Mar 2026 09:30:00 +0000", msgid
    m.set_content("In allegato la fattura.")
    if attachment:
        m.add_attachment(
            attachment[1], maintype="application", subtype="pdf", filename=attachment[0]
        )
    return m


def test_triage_collects_and_archive_files(archive, tmp_path):
    if "email.triage" not in archive.h.pm.registry.actions:
        import pytest

        pytest.fail("the email plugin is not installed (make install installs every plugin)")
    maildir = tmp_path / "Maildir"
    box = mailbox.Maildir(maildir, create=True)
    pdf = archive.pdf("Fattura 123 Enel Energia")
    box.add(
        _mail(
            "Amministrazione Enel <fatture@enel.it>",
            "Fattura n. 123/2026",
            ("../fattura 123.pdf", pdf),
            "<f123@enel.it>",
        )
    )
    box.add(_mail("News <no-reply@news.example>", "Le novita", None, "<n1@news.example>"))
    box.close()
    archive.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "Europe/Rome",
            "roots": [str(archive.area), str(maildir)],
            "accounts": {
                "mail": {"type": "maildir", "path": str(maildir)},
                "archive": {"type": "local", "path": str(archive.root)},
            },
        },
    )
    archive.h.workflow(
        "acme",
        "inbox",
        {
            "name": "Inbox",
            "steps": [
                {
                    "id": "triage",
                    "uses": "email.triage",
                    "with": {
                        "account": "mail",
                        "rules": [
                            {
                                "name": "invoices",
                                "match": {
                                    "subject": {"contains": "fattura"},
                                    "has_attachment": True,
                                },
                                "actions": [{"move": "Fatture"}, "collect_attachments"],
                            }
                        ],
                    },
                },
                {
                    "id": "file",
                    "uses": "archive.file",
                    "if": "{{ steps.triage.outputs.attachments }}",
                    "with": {
                        "account": "archive",
                        "files": "{{ steps.triage.outputs.attachments }}",
                        "path": "Fatture/{{ file.date.year }}/{{ file.sender_domain }}/{{ file.name }}",
                    },
                },
            ],
        },
    )
    result = archive.h.run("acme/inbox")
    assert result.status == "succeeded", result.error
    [entry] = result.outputs["file"]["files"]
    assert entry["status"] == "filed" and entry["type"] == "application/pdf"
    assert archive.archived() == {entry["path"]: pdf}
    assert (
        entry["path"] == "Fatture/2026/enel.it/_fattura 123.pdf"
    )  # the sender's "../" is neutralised
    assert entry["source"] == "email:<f123@enel.it>:../fattura 123.pdf"
