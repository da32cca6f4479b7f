"""The calendar account types a client profile may declare, and the ``ics`` settings (CalDAV's and
Google's are in `avflow_calendar.remote_settings`, imported when a profile declares one)."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

import avflow

ACCOUNT_TYPES = ("ics", "caldav", "google_calendar")


class IcsSettings(BaseModel):
    """``type: ics``: a local iCalendar file (the demo's calendar; an exported or synced file)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    path: Annotated[str, avflow.LocalPath()] = Field(
        description="The .ics file: in the client's folder (a relative path is read from there) "
        "or in a root granted to it (docs/security.md); ~ is expanded."
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


SCOPES = ["https://www.googleapis.com/auth/calendar"]  # what a google_calendar account needs


def __getattr__(name: str) -> Any:
    """The CalDAV and Google settings live in `avflow_calendar.remote_settings`, imported when
    a profile declares such an account; ``from avflow_calendar.settings import CaldavSettings``
    still works."""
    if name in ("CaldavSettings", "GoogleCalendarSettings"):
        from avflow_calendar import remote_settings

        return getattr(remote_settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
