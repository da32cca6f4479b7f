"""Parameters of the calendar actions (checked by `avflow validate`). Those of ``calendar.cancel``,
``confirm``, ``reschedule`` and ``event_changed`` are in `avflow_calendar.change_params`,
registered by reference: imported when a workflow uses one of them."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from avflow import AccountRef, ApprovalSpec

CALENDAR_TYPES = ("ics", "caldav", "google_calendar")
Calendar = Annotated[str, AccountRef(*CALENDAR_TYPES)]


def _on_the_calendar(v: date) -> date:
    """Year 1 or 9999 leaves the calendar once moved across a time zone or a week ahead."""
    if not 1900 <= v.year <= 9000:
        raise ValueError(f"{v.isoformat()}: the year must be between 1900 and 9000")
    return v


Day = Annotated[date, AfterValidator(_on_the_calendar)]
Moment = Annotated[datetime, AfterValidator(_on_the_calendar)]


def emails(v: list[str]) -> list[str]:
    for who in v:
        if "@" not in who or any(c in who for c in " \r\n<>,;:"):
            raise ValueError(f"{who!r} is not an e-mail address")
    return v


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    account: Calendar = Field(description="The client's calendar account.")
    also_busy: list[Calendar] = Field(
        default_factory=lambda: [],
        description="Other calendar accounts of the client whose busy time counts too.",
        max_length=20,
    )
    buffer_before_minutes: int = Field(
        default=0, ge=0, le=720, description="Free time kept before a slot."
    )
    buffer_after_minutes: int = Field(
        default=0, ge=0, le=720, description="Free time kept after a slot."
    )

    def accounts(self) -> list[str]:
        return list(dict.fromkeys([self.account, *self.also_busy]))


class FreeSlotsParams(_Params):
    """``calendar.free_slots``: free slots inside the client's working hours."""

    duration_minutes: int = Field(ge=5, le=24 * 60, description="Length of each slot.")
    count: int = Field(default=3, ge=1, le=100, description="How many slots to propose.")
    step_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="Slots start on this grid from each range."
    )
    min_notice_minutes: int = Field(
        default=0, ge=0, le=60 * 24 * 90, description="No slot starts sooner than this."
    )
    max_per_day: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="At most this many appointments a day: bookings already made count.",
    )
    days: int = Field(default=14, ge=1, le=366, description="How far ahead to look, in days.")
    start: Moment | Day | None = Field(
        default=None, description="Look from here (a date or a time; default: now)."
    )
    holidays: bool = Field(default=True, description="Skip the client's public holidays.")
    closed: list[Day] = Field(default_factory=lambda: [], description="More dates to skip.")


class BookParams(_Params):
    """``calendar.book``: book one slot."""

    start: Moment = Field(description="When the appointment starts (no zone: client's time).")
    duration_minutes: int = Field(ge=5, le=24 * 60)
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20000)
    location: str = Field(default="", max_length=1000)
    video_link: str = Field(default="", max_length=2000)
    organizer: str = Field(default="", max_length=320)
    attendees: list[str] = Field(default_factory=lambda: [], max_length=100)
    idempotency_key: str | None = Field(
        default=None,
        max_length=500,
        description="Bookings with the same key are one booking, across runs (e.g. the "
        "request's Message-ID). Default: the run and step.",
    )
    approval: ApprovalSpec | None = Field(
        default=None,
        description="Ask a person before booking: true, or {summary, timeout, default} as for "
        "core.approval (docs/approvals.md).",
    )

    @field_validator("attendees")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return emails(v)

    @field_validator("organizer")
    @classmethod
    def _organizer(cls, v: str) -> str:
        return emails([v])[0] if v else v

    @field_validator("video_link")
    @classmethod
    def _link(cls, v: str) -> str:
        if v and not v.startswith(("https://", "http://")):
            raise ValueError("video_link must be an https:// address")
        return v


class AgendaParams(BaseModel):
    """``calendar.agenda``: a day's or a week's appointments, for a digest e-mail."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    account: Calendar = Field(description="The client's calendar account.")
    also: list[Calendar] = Field(
        default_factory=lambda: [], max_length=20, description="More calendar accounts to include."
    )
    period: Literal["day", "week"] = Field(
        default="day", description="One day, or the seven days from it."
    )
    day: Day | None = Field(default=None, description="The first day (default: today).")
    days_ahead: int = Field(
        default=0, ge=0, le=366, description="Added to the day: 1 is tomorrow's agenda."
    )


def _starts(v: object) -> object:
    """Slots as free_slots gives them (mappings with ``start``) or plain start times."""
    if isinstance(v, list):
        return [item.get("start") if isinstance(item, dict) else item for item in v]
    return v


class HoldParams(_Params):
    """``calendar.hold``: tentative holds on proposed slots, released after a deadline."""

    slots: Annotated[list[Moment], BeforeValidator(_starts)] = Field(
        max_length=100,
        description="The slots to hold: free_slots' `slots`, or start times (no zone: "
        "the client's time).",
    )
    duration_minutes: int = Field(ge=5, le=24 * 60)
    title: str = Field(default="Held", min_length=1, max_length=500)
    description: str = Field(default="", max_length=20000)
    hold_minutes: int = Field(
        default=48 * 60,
        ge=5,
        le=60 * 24 * 60,
        description="Released this long after the hold is made (at the latest when the slot "
        "starts), unless confirmed.",
    )
    requests: list[str] | None = Field(
        default=None,
        max_length=30,
        description="One group of holds per request (e.g. the messages' Message-IDs), `each` "
        "slots apiece; without it, one group holding every slot.",
    )
    each: int = Field(default=3, ge=1, le=20, description="Holds per request.")
    idempotency_key: str | None = Field(
        default=None, max_length=500, description="Without `requests`: the group's key."
    )
    approval: ApprovalSpec | None = Field(
        default=None,
        description="Ask a person before holding: true, or {summary, timeout, default} as for "
        "core.approval (docs/approvals.md).",
    )


class ReleaseParams(BaseModel):
    """``calendar.release_holds``: delete the holds whose deadline has passed."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    account: Calendar = Field(description="The calendar to sweep.")
    days: int = Field(default=60, ge=1, le=366, description="How far ahead to look.")


CHANGE_PARAMS = ("CancelParams", "ConfirmParams", "RescheduleParams", "EventChangedParams")


def __getattr__(name: str) -> Any:
    """``from avflow_calendar.params import CancelParams`` (and the others moved) still works."""
    if name in CHANGE_PARAMS:
        from avflow_calendar import change_params

        return getattr(change_params, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
