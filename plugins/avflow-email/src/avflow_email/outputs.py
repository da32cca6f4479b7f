"""The outputs of ``email.triage`` (docs/email.md), and which of their fields are personal.

Fields marked `avflow.Personal` (subjects, senders, recipients, attachment names) are masked in
the audit trail of a client whose profile says ``audit.personal_data: masked``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

import avflow

PersonalText = Annotated[str, avflow.Personal]


class Handled(BaseModel):
    """One message a rule matched."""

    uid: Any
    message_id: str
    from_: PersonalText = Field(alias="from")
    subject: PersonalText
    date: str | None = None
    rule: str
    destination: str
    actions: list[str]


class Collected(BaseModel):
    """One attachment written to the run's spool."""

    name: PersonalText
    size: int
    type: str
    path: str
    sender: PersonalText
    sender_domain: str
    subject: PersonalText
    date: str | None = None
    message_id: str
    uid: Any


class Sent(BaseModel):
    """A forward, reply or draft."""

    message_id: str
    to: Annotated[list[str], avflow.Personal]
    kind: str
    folder: str | None = None
    reconciled: str | None = None


class TriageOutputs(BaseModel):
    account: str
    folder: str
    scanned: int
    matched: int
    rules: dict[str, int]
    destinations: dict[str, int]
    messages: list[Handled]
    attachments: list[Collected]
    sent: list[Sent]
    skipped: list[dict[str, Any]]
    uidvalidity_changed: bool
