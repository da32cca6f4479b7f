"""``type: caldav`` and ``type: google_calendar`` settings: a module of their own, imported when a
client profile declares such an account (registered with `avflow.lazy`), so that checking
profiles with local calendars does not build them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class CaldavSettings(BaseModel):
    """``type: caldav``: one calendar collection on a CalDAV server (Nextcloud, iCloud,
    Fastmail, Radicale), through the ``caldav`` library."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="The calendar collection's URL, e.g. "
        "https://cloud.example/remote.php/dav/calendars/me/personal/"
    )
    username: str | None = None
    password: str | None = Field(default=None, description="A secret (an app password).")
    timeout: float = Field(default=30.0, gt=0, le=600)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("caldav url must start with https:// (or http://)")
        if "@" in v.split("/")[2]:  # it would be shown in every error and log line
            raise ValueError(
                "caldav url must not hold a user name or password: give them as username: "
                "and password: (${secret:NAME})"
            )
        return v if v.endswith("/") else v + "/"


class GoogleCalendarSettings(BaseModel):
    """``type: google_calendar``: a Google Calendar, with OAuth user credentials (the refresh
    token `avflow auth google` stores in the client's vault)."""

    model_config = ConfigDict(extra="forbid")

    calendar_id: str = Field(default="primary", description="The calendar's id, or 'primary'.")
    refresh_token: str | None = Field(default=None, description="A secret: ${secret:NAME}.")
    token: str | None = Field(default=None, description="An access token (a secret), if any.")
    client_id: str | None = None
    client_secret: str | None = Field(default=None, description="A secret.")
    token_uri: str | None = Field(default=None, description="Google's by default.")
    api_endpoint: str | None = Field(default=None, description="Google's by default.")
    timeout: float = Field(default=30.0, gt=0, le=600)
    retries: int = Field(default=5, ge=0, le=20)
    max_retry_after: float = Field(default=120.0, ge=0, description="Longest wait honoured, s.")
    send_updates: Literal["all", "externalOnly", "none"] = Field(
        default="all", description="Who Google e-mails an invitation when an event is booked."
    )

    @model_validator(mode="after")
    def _credentials(self) -> GoogleCalendarSettings:
        if not self.token and not self.refresh_token:
            raise ValueError("google_calendar needs 'refresh_token' (use ${secret:NAME})")
        if self.refresh_token and not (self.client_id and self.client_secret):
            raise ValueError(
                "google_calendar: 'refresh_token' needs 'client_id' and 'client_secret'"
            )
        return self
