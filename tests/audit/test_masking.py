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
    assert mask_details(details) == {
        "kind": "email.send",
        "subject": "R***",
        "to": ["m***@r***.it", "A***"],
        "count": 3,
        "error": 'mailbox of a***@b***.it is full for "R***"',
        "nested": {"from": "x***@y***.com", "folder": "Fatture"},
    }
