"""The ``email`` failure notifier: ``notify: email:`` in ``service.yaml`` (docs/operations.md).

The core decides when a failure is reported; this module writes the message and sends it with the
plugin's own SMTP sender (`sending.smtp_send`), the one forwards and replies use.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import avflow
from avflow_email.settings import SmtpSettings

if TYPE_CHECKING:
    from email.message import EmailMessage

ENV_RE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


class NotifySmtp(BaseModel):
    """The SMTP server failure notices leave through; the password only as ``${env:NAME}``."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # 465 for ssl, 587, 25 for none
    security: Literal["starttls", "ssl", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("password")
    @classmethod
    def _password(cls, v: str | None) -> str | None:
        if v is not None and not ENV_RE.match(v):
            raise ValueError('write the password as "${env:NAME}" and set NAME in the environment')
        return v

    def resolved_password(self) -> str | None:
        m = ENV_RE.match(self.password or "")
        return os.environ.get(m.group(1)) if m else None

    def sender_settings(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.host,
            port=self.port,
            security="tls" if self.security == "ssl" else self.security,
            username=self.username,
            ca_file=self.ca_file,
            timeout=self.timeout,
        )


class EmailNotifySettings(avflow.NotifierSettings):
    """``notify: email:``: recipients, sender and SMTP server, plus the core's batch/repeat."""

    to: list[str] = Field(default_factory=lambda: [])
    from_: str = Field(default="avflow@localhost", alias="from")
    smtp: NotifySmtp

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


# The notice's words per language (the reader's: avflow.Failure.language).
NOTICE = {
    "en": {
        "subject": "avflow: {n} workflow(s) failing: {names}",
        "intro": "These workflows failed. No further message is sent for them until they "
        "succeed again.",
        "run": "run",
        "error": "error",
        "outro": "See `avflow status` and `avflow runs CLIENT/WORKFLOW` for details.",
    },
    "it": {
        "subject": "avflow: {n} flusso/i di lavoro non riuscito/i: {names}",
        "intro": "Questi flussi di lavoro non sono riusciti. Non arriveranno altri messaggi "
        "su di essi finché non riusciranno di nuovo.",
        "run": "esecuzione",
        "error": "errore",
        "outro": "I dettagli sono in `avflow status` e `avflow runs CLIENTE/FLUSSO`.",
    },
}


def compose(sender: str, to: list[str], items: list[avflow.Failure]) -> EmailMessage:
    """One message about one or more failing workflows, in the reader's language."""
    from email import policy
    from email.message import EmailMessage

    words = NOTICE.get(items[0].language if items else "en", NOTICE["en"])
    msg = EmailMessage(policy=policy.SMTP)
    names = sorted({f"{i.client}/{i.workflow}" for i in items})
    if words is NOTICE["en"]:
        plural = "s" if len(names) > 1 else ""
        msg["Subject"] = f"avflow: {len(names)} workflow{plural} failing: {', '.join(names)[:150]}"
    else:
        msg["Subject"] = words["subject"].format(n=len(names), names=", ".join(names)[:150])
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    lines = [words["intro"], ""]
    for i in items:
        when = i.scheduled_at or i.at
        when_s = when.isoformat() if isinstance(when, datetime) else str(when)
        lines += [
            f"{i.client}/{i.workflow}",
            f"  {words['run']}: {i.run}  ({when_s})",
            f"  {words['error']}: {i.error}",
            "",
        ]
    lines.append(words["outro"])
    msg.set_content("\n".join(lines))
    return msg


def send(settings: EmailNotifySettings, failures: list[avflow.Failure], to: str | None) -> None:
    """Mail ``failures`` to the client's own address ``to``, else to ``settings.to``."""
    from avflow_email.sending import smtp_send  # the SMTP client: only when a mail goes out

    rcpt = [to] if to else settings.to
    if not rcpt:
        raise avflow.StepFailed("no recipient: set notify.email.to in service.yaml")
    msg = compose(settings.from_, rcpt, failures)
    smtp = settings.smtp
    smtp_send(
        smtp.sender_settings(), smtp.username, smtp.resolved_password(), msg, mark=lambda: None
    )


NOTIFIER = avflow.Notifier(
    "email", EmailNotifySettings, send, "E-mail the AV when workflows start failing."
)
