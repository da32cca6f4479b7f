"""``type: imap`` settings: a module of their own, imported when a client profile declares an
IMAP account (registered with `avflow.lazy`), so that checking profiles with Maildir accounts
does not build them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from avflow_email.settings import _MailSettings, _Strict


class OAuthSettings(_Strict):
    """XOAUTH2: a refresh token (from the vault) exchanged for access tokens at ``token_uri``."""

    token_uri: str = "https://oauth2.googleapis.com/token"
    client_id: str
    client_secret: str | None = None
    refresh_token: str
    access_token: str | None = None
    scopes: list[str] = Field(default_factory=lambda: [])


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
