"""Forwards and replies: building them with a deterministic Message-ID, and sending them once.

Sending is made exactly-once with two records. A copy is saved in the Sent folder after the
server accepts the mail, and the reconcile step searches the Sent folder for the Message-ID. The
gap between "the server has the mail" and "the copy is saved" is closed by a local mark written
just before the message body goes on the wire (after ``DATA`` was accepted): a mail whose mark
exists was, or may have been, delivered, and is never sent again.
"""

from __future__ import annotations

import email
import hashlib
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr

import avflow
from avflow_email.imapwire import tls_context
from avflow_email.message import Mail
from avflow_email.settings import SmtpSettings


def message_id(seed: str, sender: str) -> str:
    """A Message-ID that is the same every time the same effect is attempted."""
    domain = sender.rpartition("@")[2] or "avflow.invalid"
    return f"<avflow.{hashlib.sha256(seed.encode()).hexdigest()[:32]}@{domain}>"


def _subject(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}".strip()


def build_forward(
    original: bytes, mail: Mail, sender: str, to: list[str], note: str | None, msgid: str
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = _subject("Fwd:", mail.first("subject"))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = msgid
    if mail.message_id:
        msg["References"] = mail.message_id
    msg.set_content((note or "Forwarded message attached.") + "\n")
    # message/rfc822 must not be base64-encoded (RFC 2046 5.2.1): attach the parsed message.
    inner = email.message_from_bytes(original, policy=policy.default)
    msg.add_attachment(inner, disposition="attachment")
    return msg


def build_reply(
    mail: Mail, sender: str, subject: str | None, body: str, msgid: str, auto: bool
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    reply_to = mail.addresses("reply-to") or mail.addresses("from")
    msg["From"] = sender
    msg["To"] = ", ".join(reply_to)
    msg["Subject"] = subject or _subject("Re:", mail.first("subject"))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = msgid
    if mail.message_id:
        msg["In-Reply-To"] = mail.message_id
        msg["References"] = mail.message_id
    if auto:
        msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(body if body.endswith("\n") else body + "\n")
    return msg


def auto_reply_allowed(mail: Mail, own: str) -> bool:
    """RFC 3834: never auto-reply to lists, bulk or automatic mail, nor to oneself."""
    if mail.is_list:
        return False
    if mail.first("auto-submitted").strip().lower() not in ("", "no"):
        return False
    sender = mail.sender
    return not (
        not sender
        or sender == own.lower()
        or re.match(r"(mailer-daemon|postmaster|no-?reply)@", sender)
    )


def recipients(msg: EmailMessage) -> list[str]:
    return [a for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if a]


def _data_with_mark(smtp: smtplib.SMTP, data: bytes, mark: Callable[[], None]) -> None:
    code, resp = smtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, resp)
    mark()  # from here on the server may have the mail: never send it again
    body = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r?\n", b"\r\n", data))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, resp = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, resp)


def smtp_send(
    s: SmtpSettings,
    username: str | None,
    password: str | None,
    msg: EmailMessage,
    mark: Callable[[], None],
    oauth_token: Callable[[], str] | None = None,
) -> None:
    """Send ``msg``; ``mark()`` is called once the server has said it will take the body.

    With ``oauth_token`` (an XOAUTH2 account) and no SMTP password of its own, log in with XOAUTH2.
    """
    context = tls_context(s.ca_file)
    with _one_line_errors(f"smtp {s.host}:{s.effective_port}"):
        smtp = _connect(s, context)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            _log_in(smtp, s, s.username or username, password, oauth_token)
            _transfer(smtp, msg, mark)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _connect(s: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if s.security == "tls":
        return smtplib.SMTP_SSL(s.host, s.effective_port, timeout=s.timeout, context=context)
    return smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)


def _log_in(
    smtp: smtplib.SMTP,
    s: SmtpSettings,
    user: str | None,
    password: str | None,
    oauth_token: Callable[[], str] | None,
) -> None:
    pw = s.password or password
    if user and oauth_token is not None and not s.password and smtp.has_extn("auth"):
        token = oauth_token()
        smtp.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01")
    elif user and pw and smtp.has_extn("auth"):
        smtp.login(user, pw)


def _transfer(smtp: smtplib.SMTP, msg: EmailMessage, mark: Callable[[], None]) -> None:
    """MAIL FROM, RCPT TO each recipient, then DATA with the mark (see `_data_with_mark`)."""
    sender = parseaddr(str(msg["From"]))[1]
    code, resp = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, resp, sender)
    for rcpt in recipients(msg):
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({rcpt: (code, resp)})
    _data_with_mark(smtp, msg.as_bytes(), mark)


@contextmanager
def _one_line_errors(where: str) -> Iterator[None]:
    """What the server or the network says, as one line naming the server."""
    try:
        yield
    except smtplib.SMTPAuthenticationError:
        raise avflow.StepFailed(f"{where}: login failed: wrong user name or password") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise avflow.StepFailed(
            f"{where}: recipient refused: {', '.join(exc.recipients)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else error
        raise avflow.StepFailed(f"{where}: the server said {exc.smtp_code} {text}") from None
    except ssl.SSLCertVerificationError as exc:
        raise avflow.StepFailed(
            f"{where}: the server's certificate was rejected ({exc.verify_message})"
        ) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise avflow.StepFailed(f"{where}: {exc or type(exc).__name__}") from None
