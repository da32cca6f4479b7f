"""The avflow-email plugin: what it registers (entry point ``email`` in group ``avflow``)."""

from __future__ import annotations

from typing import Any

import avflow
from avflow_email import triage, trigger
from avflow_email.outputs import TriageOutputs
from avflow_email.rules import TriageParams
from avflow_email.settings import ImapSettings, MaildirSettings


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(
        avflow.AccountType(
            "imap", ImapSettings, "An IMAP mailbox (TLS or STARTTLS; password or XOAUTH2)."
        )
    )
    register(avflow.AccountType("maildir", MaildirSettings, "A local Maildir folder tree."))


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action(
            "email.triage",
            TriageParams,
            triage.run,
            "Sort new mail by ordered rules: move, flag, forward, reply, collect attachments.",
            template_vars=frozenset({"message"}),
            outputs=TriageOutputs,
        )
    )


@avflow.hookimpl
def register_triggers(register: Any) -> None:
    register(
        avflow.Trigger(
            "email.new_mail",
            trigger.NewMailParams,
            trigger.watch,
            "Run the workflow when new mail arrives (IMAP IDLE, or polling).",
        )
    )


@avflow.hookimpl
def register_commands(cli: Any) -> None:
    from avflow_email.auth_cli import auth_group
    from avflow_email.cli import email_group

    cli.add_command(email_group)
    cli.add_command(auth_group)


@avflow.hookimpl
def register_notifiers(register: Any) -> None:
    from avflow_email.notifier import NOTIFIER

    register(NOTIFIER)
