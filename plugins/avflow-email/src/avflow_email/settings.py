"""Account settings: ``type: maildir`` in a client's ``client.yaml``, and what ``imap`` shares with
it (``type: imap``'s own are in `avflow_email.imap_settings`, imported when a profile declares one)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import avflow


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class SmtpSettings(_Strict):
    """Where forwards and replies are sent from. User name and password default to the account's."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "none": 25}[self.security]


class _MailSettings(_Strict):
    address: str | None = Field(
        default=None, description="The sender address of forwards and replies."
    )
    smtp: SmtpSettings | None = None
    sent_folder: str | None = Field(
        default=None, description="Default: the \\Sent special-use folder, else Sent."
    )
    drafts_folder: str | None = None
    trash_folder: str | None = None
    save_sent: bool = Field(
        default=True, description="Save a copy of each sent mail in the Sent folder."
    )


class MaildirSettings(_MailSettings):
    """``type: maildir``: a local Maildir++ folder tree (sub-folders are ``.Name`` directories).

    Without ``smtp:``, mail avflow sends is delivered to the local ``Outbox`` folder instead.
    """

    path: Annotated[str, avflow.LocalPath()] = Field(
        description="The Maildir: in the client's folder (a relative path is read from there) "
        "or in a root granted to the client (docs/security.md)."
    )
    create: bool = Field(default=True, description="Create the Maildir if it does not exist.")


def __getattr__(name: str) -> Any:
    """The IMAP settings live in `avflow_email.imap_settings`, imported when a profile declares
    an ``imap`` account; ``from avflow_email.settings import ImapSettings`` still works."""
    if name in ("ImapSettings", "OAuthSettings"):
        from avflow_email import imap_settings

        return getattr(imap_settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
