"""The calendar account types a client profile may declare, and their settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

ACCOUNT_TYPES = ("ics", "caldav")


class IcsSettings(BaseModel):
    """``type: ics``: a local iCalendar file (the demo's calendar; an exported or synced file)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The .ics file. A relative path is read inside the client's folder and may "
        "not leave it; ~ is expanded."
    )
    create: bool = Field(
        default=False, description="Create an empty calendar there if the file is missing."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.strip() or "\x00" in v:
            raise ValueError("ics path must be a file name")
        return v


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
        return v if v.endswith("/") else v + "/"
