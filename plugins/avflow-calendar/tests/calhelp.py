"""Helpers for the calendar plugin's tests: clients with .ics or CalDAV calendars."""

from __future__ import annotations

from typing import Any


def ics(*events: str) -> str:
    """A VCALENDAR holding ``events`` (VEVENT bodies, one property a line)."""
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n")


def calendar_client(h: Any, client: str, tz: str, files: dict[str, str], **profile: Any) -> None:
    """A client whose accounts are .ics files in its folder (name -> content)."""
    accounts = {name: {"type": "ics", "path": f"{name}.ics"} for name in files}
    h.client(client, {"name": client.title(), "timezone": tz, "accounts": accounts, **profile})
    for name, text in files.items():
        (h.workflows / client / f"{name}.ics").write_text(text)


def slots_workflow(h: Any, client: str, **with_: Any) -> str:
    h.workflow(
        client,
        "slots",
        {"steps": [{"id": "find", "uses": "calendar.free_slots", "with": with_}]},
    )
    return f"{client}/slots"


def caldav_client(h: Any, client: str, tz: str, urls: dict[str, str], **profile: Any) -> None:
    """A client whose accounts are CalDAV calendars (name -> collection URL)."""
    accounts = {
        name: {"type": "caldav", "url": url, "username": "av", "password": "${secret:dav}"}
        for name, url in urls.items()
    }
    h.client(client, {"name": client.title(), "timezone": tz, "accounts": accounts, **profile})
    h.secret(client, "dav", "x")
