"""Parameters of ``calendar.cancel``, ``calendar.confirm``, ``calendar.reschedule`` and the
``calendar.event_changed`` trigger: registered by reference (`avflow.lazy`), so a workflow
that uses none of them does not build them (`avflow validate`, `next`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avflow_calendar.params import Calendar, Moment, _Params, emails


class CancelParams(BaseModel):
    """``calendar.cancel``: cancel a booked appointment (its event is deleted)."""

    model_config = ConfigDict(extra="forbid")

    account: Calendar = Field(description="The calendar the appointment is in.")
    uid: str = Field(min_length=1, max_length=300, description="The booking's uid (book's output).")
    any_event: bool = Field(
        default=False, description="Also cancel an event avflow did not book (default: refuse)."
    )


class ConfirmParams(BaseModel):
    """``calendar.confirm``: turn a hold into a booked appointment."""

    model_config = ConfigDict(extra="forbid")

    account: Calendar = Field(description="The calendar the hold is in.")
    uid: str = Field(min_length=1, max_length=300, description="The hold's uid (hold's output).")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    location: str | None = Field(default=None, max_length=1000)
    attendees: list[str] = Field(default_factory=lambda: [], max_length=100)
    release_others: bool = Field(
        default=True, description="Release the other holds proposed together with this one."
    )

    @field_validator("attendees")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return emails(v)


class RescheduleParams(_Params):
    """``calendar.reschedule``: move a booked appointment to another slot."""

    uid: str = Field(min_length=1, max_length=300, description="The booking's uid.")
    start: Moment = Field(description="The new start (no zone: the client's time).")
    duration_minutes: int | None = Field(
        default=None, ge=5, le=24 * 60, description="The new length (default: unchanged)."
    )


class EventChangedParams(BaseModel):
    """``calendar.event_changed``: a run for each new, moved, changed or cancelled event."""

    model_config = ConfigDict(extra="forbid")

    account: Calendar = Field(description="The calendar to watch.")
    poll_seconds: float = Field(
        default=300, ge=1, le=86400, description="Seconds between two looks at the calendar."
    )
    include_own: bool = Field(
        default=False,
        description="Also fire for avflow's own holds and bookings (default: only when "
        "someone moves one of its bookings).",
    )
