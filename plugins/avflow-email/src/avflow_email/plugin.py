"""The avflow-email plugin: what it registers (entry point ``email`` in group ``avflow``)."""

from __future__ import annotations

from typing import Any

import avflow
from avflow_email.outputs import TriageOutputs
from avflow_email.rules import TriageParams
from avflow_email.settings import MaildirSettings
from avflow_email.words import EFFECTS


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(
        avflow.AccountType(
            "imap",
            avflow.lazy("avflow_email.imap_settings:ImapSettings"),
            "An IMAP mailbox (TLS or STARTTLS; password or XOAUTH2).",
        )
    )
    register(avflow.AccountType("maildir", MaildirSettings, "A local Maildir folder tree."))


# what a reply template sees as ``message`` (outgoing.py builds it; docs/email.md): a mapping,
# so its own methods too; {{ message.subjet }} is a validation error with a suggestion
MESSAGE_ATTRS = frozenset(
    {"uid", "message_id", "from", "subject", "date", "from_address", "from_name", "to", "body"}
    | {"get", "items", "keys", "values"}
)


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action(
            "email.triage",
            TriageParams,
            avflow.lazy("avflow_email.triage:run"),  # imported when a step runs
            "Sort new mail by ordered rules: move, flag, forward, reply, collect attachments.",
            template_vars=frozenset({"message"}),
            template_attrs={"message": MESSAGE_ATTRS},
            outputs=TriageOutputs,
            effects=EFFECTS,
        )
    )


@avflow.hookimpl
def register_triggers(register: Any) -> None:
    register(
        avflow.Trigger(
            "email.new_mail",
            avflow.lazy("avflow_email.trigger:NewMailParams"),  # when a workflow uses it
            avflow.lazy("avflow_email.trigger:watch"),
            "Run the workflow when new mail arrives (IMAP IDLE, or polling).",
        )
    )


@avflow.hookimpl
def register_commands(cli: Any) -> None:
    from avflow_email.cli import email_group

    cli.add_command(email_group)


GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
MICROSOFT_MAIL_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
)


def _signs_in_with(*hosts: str) -> Any:
    """Whether an IMAP account (as written) uses XOAUTH2 with that provider: its token
    endpoint or its host says which."""

    def applies(settings: Any) -> bool:
        if settings.get("auth") != "xoauth2":
            return False
        oauth = settings.get("oauth") if isinstance(settings.get("oauth"), dict) else {}
        where = f"{settings.get('host', '')} {oauth.get('token_uri', '')}".lower()
        return any(h in where for h in hosts)

    return applies


@avflow.hookimpl
def register_oauth_scopes(register: Any) -> None:
    """`avflow auth google|microsoft` asks for mail access when an IMAP account needs it."""
    google = _signs_in_with("gmail.com", "googlemail.com", "googleapis.com", "google.com")
    microsoft = _signs_in_with("office365.com", "outlook.com", "office.com", "microsoftonline")
    register(avflow.OAuthScopes("google", "imap", (GOOGLE_MAIL_SCOPE,), google))
    register(avflow.OAuthScopes("microsoft", "imap", MICROSOFT_MAIL_SCOPES, microsoft))


@avflow.hookimpl
def register_notifiers(register: Any) -> None:
    # by reference: avflow_email.notifier (its models, the SMTP sender) is imported when
    # service.yaml configures `notify: email:`, not by every command
    register(
        avflow.Notifier(
            "email",
            avflow.lazy("avflow_email.notifier:EmailNotifySettings"),
            avflow.lazy("avflow_email.notifier:send"),
            "E-mail the AV when workflows start failing.",
        )
    )
