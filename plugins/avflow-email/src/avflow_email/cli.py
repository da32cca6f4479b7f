"""``avflow email``: commands of the email plugin (sample messages for the demo)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import click

import avflow
from avflow_email.accounts import maildir_path
from avflow_email.maildir import MaildirMailbox

SAMPLES = [
    (
        "Amministrazione Enel <fatture@enel.it>",
        "Fattura n. {n}/2026 - Enel Energia",
        "Gentile cliente,\nin allegato la fattura del mese.\nCordiali saluti",
        "fattura_{n}.pdf",
    ),
    (
        "Newsletter <no-reply@news.marketingweek.com>",
        "Le novità della settimana",
        "Le notizie più lette della settimana.",
        None,
    ),
    (
        "Mario Rossi <mario.rossi@gmail.com>",
        "Richiesta appuntamento",
        "Buongiorno, vorrei fissare un appuntamento la prossima settimana.",
        None,
    ),
    (
        "Direzione Acme <direzione@cliente-acme.it>",
        "Urgente: contratto da rivedere",
        "Ciao, ti giro il contratto: serve entro venerdì.",
        None,
    ),
    ("LinkedIn <notifications@linkedin.com>", "Hai nuove notifiche", "Notifica automatica.", None),
    (
        "Anna Bianchi <anna@studio-bianchi.example>",
        "Possiamo fissare una call?",
        "Ciao, ti va una call giovedì alle 15?",
        None,
    ),
]


def sample(i: int, domain: str) -> bytes:
    sender, subject, body, attachment = SAMPLES[i % len(SAMPLES)]
    n = 100 + i
    m = EmailMessage()
    m["From"] = sender
    m["To"] = f"studio@{domain}"
    m["Subject"] = subject.format(n=n)
    m["Date"] = formatdate(1767225600 + i * 3600)
    m["Message-ID"] = f"<sample-{i}@{domain}>"
    if "news." in sender:
        m["List-Unsubscribe"] = "<mailto:unsubscribe@news.marketingweek.com>"
    m.set_content(body)
    if attachment:
        pdf = b"%PDF-1.4\n% avflow sample invoice\n" + f"Fattura {n}\n".encode() + b"%%EOF\n"
        m.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=attachment.format(n=n)
        )
    return m.as_bytes()


@click.group("email")
def email_group() -> None:
    """Email plugin commands."""


@email_group.command("seed")
@click.argument("client_id", metavar="CLIENT")
@click.argument("account")
@click.option(
    "--count",
    default=12,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="How many sample messages.",
)
def seed(client_id: str, account: str, count: int) -> None:
    """Put sample messages in the INBOX of a maildir account (for the bundled demo)."""
    ctx = avflow.command_context()
    client = ctx.client(client_id)  # an unknown client is a clear error
    raw = ctx.project.clients[client_id].profile.accounts.get(account)
    if raw is None or raw.get("type") != "maildir":
        raise click.UsageError(f"client {client_id!r} has no maildir account {account!r}")
    path = str(raw.get("path", ""))
    if "${" in path:
        raise click.UsageError(f"account {account!r}: seed needs a plain path, not {path!r}")
    target = maildir_path(path, client)
    box = MaildirMailbox(account, str(target))
    domain = client_id.lower().replace("_", "-") + ".example"
    for i in range(count):
        box.append("INBOX", sample(i, domain))
    click.echo(f"{count} sample messages in {target}")
