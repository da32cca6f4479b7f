"""What `audit.personal_data: masked` hides in descriptions and details, as plugins write them."""

from __future__ import annotations

import pytest

from avflow.audit.pipeline import mask_description, mask_details


@pytest.mark.parametrize(
    ("written", "recorded"),
    [
        (
            'move "Fattura 12" from fornitore@example.com to Fatture',
            'move "F***" from f***@e***.com to Fatture',
        ),
        (
            "forward 'Fattura 12' to a@b.example, c@d.example",  # repr() quotes, as the email plugin writes
            "forward 'F***' to a***@b***.example, c***@d***.example",
        ),
        (
            "reply to Mario Rossi <mario@rossi.it> about 'Re: contratto'",
            "reply to M*** R*** <m***@r***.it> about 'R***'",
        ),
        ('from "Rossi, Mario" <mario@rossi.it>', 'from "R***" <m***@r***.it>'),
        ("file «Preventivo Bianchi.pdf» and “Offerta”", "file «P***» and “O***”"),
        ("the client's folder 'Inbox' has 3 new", "the client's folder 'I***' has 3 new"),
        ("move 3 from INBOX to Fatture", "move 3 from INBOX to Fatture"),
    ],
)
def test_descriptions(written: str, recorded: str) -> None:
    assert mask_description(written) == recorded


def test_details_mask_personal_keys_and_addresses_anywhere() -> None:
    details = {
        "kind": "email.send",
        "subject": "Rinnovo contratto",
        "to": ["mario@rossi.it", "Anna"],
        "count": 3,
        "error": 'mailbox of anna@bianchi.it is full for "Rinnovo"',
        "nested": {"from": "x@y.com", "folder": "Fatture"},
    }
    assert mask_details(details, {"subject", "to", "from"}) == {
        "kind": "email.send",
        "subject": "R***",
        "to": ["m***@r***.it", "A***"],
        "count": 3,
        "error": 'mailbox of a***@b***.it is full for "R***"',
        "nested": {"from": "x***@y***.com", "folder": "Fatture"},
    }


def test_personal_fields_come_from_the_plugins_models() -> None:
    """The core names no personal key: a plugin marks its outputs' fields `avflow.Personal`."""
    from typing import Annotated

    from pydantic import BaseModel, Field

    import avflow
    from avflow.personal import personal_fields

    class Attendee(BaseModel):
        email: Annotated[str, avflow.Personal]
        role: str

    class Event(BaseModel):
        summary: str = Field(json_schema_extra={"personal": True})
        organiser: Annotated[str | None, avflow.Personal()] = Field(None, alias="organizer")
        attendees: list[Attendee] = []
        by_room: dict[str, Attendee | None] = {}
        count: int = 0

    assert personal_fields(Event) == {"summary", "organiser", "organizer", "email"}
    assert mask_details({"summary": "Call", "subject": "kept"}, personal_fields(Event)) == {
        "summary": "C***",
        "subject": "kept",
    }


def test_the_registry_gathers_the_installed_plugins_declarations() -> None:
    from pathlib import Path

    from avflow.plugins import PluginManager

    pm = PluginManager(autoload=False, plugins_dirs=[Path(__file__).parent / "plugins"])
    assert {"subject", "sender", "to"} <= pm.registry.personal
    assert "moved" not in pm.registry.personal
