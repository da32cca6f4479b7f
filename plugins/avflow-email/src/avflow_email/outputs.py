"""The outputs of ``email.triage`` (docs/email.md), and which of their fields are personal.

Fields marked `avflow.Personal` (subjects, senders, recipients, attachment names) are masked in
the audit trail of a client whose profile says ``audit.personal_data: masked``.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

import avflow

PersonalText = Annotated[str, avflow.Personal]


class Handled(BaseModel):
    """One message a rule matched."""

    model_config = ConfigDict(defer_build=True)

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

    model_config = ConfigDict(defer_build=True)

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

    model_config = ConfigDict(defer_build=True)

    message_id: str
    to: Annotated[list[str], avflow.Personal]
    kind: str
    folder: str | None = None
    reconciled: str | None = None


class TriageOutputs(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
