"""Account settings: ``type: imap`` and ``type: maildir`` in a client's ``client.yaml``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import avflow


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class OAuthSettings(_Strict):
    """XOAUTH2: a refresh token (from the vault) exchanged for access tokens at ``token_uri``."""

    token_uri: str = "https://oauth2.googleapis.com/token"
    client_id: str
    client_secret: str | None = None
    refresh_token: str
    access_token: str | None = None
    scopes: list[str] = Field(default_factory=lambda: [])


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


class ImapSettings(_MailSettings):
    """``type: imap``: an IMAP server, implicit TLS (993) or STARTTLS (143), certificates checked."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str
    password: str | None = None
    auth: Literal["password", "xoauth2"] = "password"
    oauth: OAuthSettings | None = None
    ca_file: str | None = Field(
        default=None, description="Trust this CA bundle (a self-signed server)."
    )
    timeout: float = Field(default=60.0, gt=0)
    fetch_chunk: int = Field(default=1000, ge=1, description="Messages per header FETCH.")
    move_connections: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Connections a big triage moves messages over at once (1: one at a time).",
    )

    @model_validator(mode="after")
    def _auth(self) -> ImapSettings:
        if self.auth == "password" and self.password is None:
            raise ValueError(
                "an imap account with auth: password needs a password (${secret:NAME})"
            )
        if self.auth == "xoauth2" and self.oauth is None:
            raise ValueError("an imap account with auth: xoauth2 needs an oauth: block")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class MaildirSettings(_MailSettings):
    """``type: maildir``: a local Maildir++ folder tree (sub-folders are ``.Name`` directories).

    Without ``smtp:``, mail avflow sends is delivered to the local ``Outbox`` folder instead.
    """

    path: Annotated[str, avflow.LocalPath()] = Field(
        description="The Maildir: in the client's folder (a relative path is read from there) "
        "or in a root granted to the client (docs/security.md)."
    )
    create: bool = Field(default=True, description="Create the Maildir if it does not exist.")
