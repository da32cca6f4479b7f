"""Opening the mailbox of an account, whatever its type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import avflow
from avflow_email import oauth
from avflow_email.backend import Mailbox
from avflow_email.imap import ImapMailbox
from avflow_email.imap_settings import ImapSettings
from avflow_email.maildir import MaildirMailbox
from avflow_email.settings import MaildirSettings


def maildir_path(path: str, client: avflow.ClientInfo) -> Path:
    """A Maildir path confined to the client (`avflow.confine`: its folder and granted roots;
    a relative one is read from its folder); an existing one is checked again as it is opened."""
    target = avflow.confine(client, path)
    if target.exists():
        return avflow.confined_folder(client, path)
    return target


def open_mailbox(account: avflow.Account[Any], client: avflow.ClientInfo) -> Mailbox:
    """Connect (IMAP) or open (Maildir) the account's mailbox, for ``client``."""
    s = account.settings
    if isinstance(s, MaildirSettings):
        return MaildirMailbox(account.name, str(maildir_path(s.path, client)), s.create)
    assert isinstance(s, ImapSettings)
    if s.auth != "xoauth2":
        return ImapMailbox(account.name, s)
    assert s.oauth is not None
    try:
        return ImapMailbox(account.name, s, oauth.access_token(s.oauth))
    except avflow.StepFailed as exc:
        if "login failed" not in str(exc):
            raise
        # The cached or configured access token expired early: refresh once and retry.
        return ImapMailbox(account.name, s, oauth.access_token(s.oauth, force=True))


def sender_address(account: avflow.Account[Any]) -> str:
    s = account.settings
    return s.address or getattr(s, "username", "") or f"{account.name}@localhost"
