"""Hook implementations: what the calendar plugin registers with avflow."""

from __future__ import annotations

from typing import Any

import avflow
from avflow_calendar import settings
from avflow_calendar.params import (
    AgendaParams,
    BookParams,
    FreeSlotsParams,
    HoldParams,
    ReleaseParams,
)
from avflow_calendar.words import EFFECTS

# imported when a step runs: loading the plugin (avflow validate, next) needs only its models
book = avflow.lazy("avflow_calendar.actions:book")
free_slots = avflow.lazy("avflow_calendar.actions:free_slots")
agenda = avflow.lazy("avflow_calendar.agenda:agenda")
cancel = avflow.lazy("avflow_calendar.cancel:cancel")
confirm = avflow.lazy("avflow_calendar.holds:confirm")
hold = avflow.lazy("avflow_calendar.holds:hold")
release_holds = avflow.lazy("avflow_calendar.holds:release_holds")
reschedule = avflow.lazy("avflow_calendar.reschedule:reschedule")


def _later(model: str) -> avflow.lazy:
    """A model of `avflow_calendar.change_params`, imported when a workflow uses its action."""
    return avflow.lazy("avflow_calendar.change_params:" + model)


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(avflow.AccountType("ics", settings.IcsSettings, "A local iCalendar (.ics) file."))
    register(
        avflow.AccountType(
            "caldav",
            avflow.lazy("avflow_calendar.remote_settings:CaldavSettings"),
            "A calendar on a CalDAV server (Nextcloud, iCloud, Fastmail, Radicale).",
        )
    )
    register(
        avflow.AccountType(
            "google_calendar",
            avflow.lazy("avflow_calendar.remote_settings:GoogleCalendarSettings"),
            "A Google Calendar (OAuth).",
        )
    )


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action(
            "calendar.free_slots",
            FreeSlotsParams,
            free_slots,
            "Free slots of a given length inside the client's working hours.",
        )
    )
    register(
        avflow.Action(
            "calendar.book",
            BookParams,
            book,
            "Book an appointment once, after re-checking that its slot is still free.",
            effects=EFFECTS,  # every kind of the plugin's, for the client's report
        )
    )
    register(
        avflow.Action(
            "calendar.agenda",
            AgendaParams,
            agenda,
            "A day's or a week's appointments, ready for a digest e-mail.",
        )
    )
    register(
        avflow.Action(
            "calendar.cancel", _later("CancelParams"), cancel, "Cancel a booked appointment, once."
        )
    )
    for name, model, run, text in (
        ("hold", HoldParams, hold, "Tentative holds on proposed slots, released at a deadline."),
        (
            "confirm",
            _later("ConfirmParams"),
            confirm,
            "Turn a hold into the appointment; release the rest.",
        ),
        (
            "reschedule",
            _later("RescheduleParams"),
            reschedule,
            "Move a booking to another free slot, once.",
        ),
        ("release_holds", ReleaseParams, release_holds, "Delete the holds past their deadline."),
    ):
        register(avflow.Action(f"calendar.{name}", model, run, text))


@avflow.hookimpl
def register_triggers(register: Any) -> None:
    register(
        avflow.Trigger(
            "calendar.event_changed",
            _later("EventChangedParams"),
            avflow.lazy("avflow_calendar.trigger:watch"),
            "A run for each new, moved, changed or cancelled event of a calendar.",
        )
    )


@avflow.hookimpl
def register_oauth_scopes(register: Any) -> None:
    """`avflow auth google` asks for Calendar access when the client has a Google calendar."""
    register(avflow.OAuthScopes("google", "google_calendar", tuple(settings.SCOPES)))
