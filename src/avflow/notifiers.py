"""What a failure notifier plugin registers, and what it is handed (see docs/plugins.md).

The core decides *when* the AV is told that a workflow is failing (the first failure after a
success, failures close together in one message, reminders); a notifier decides *how*: the email
plugin sends a mail, another plugin could post to a chat. A notifier is configured in
``service.yaml`` under ``notify: <name>:``; its settings model extends `NotifierSettings`, whose
``batch`` and ``repeat`` keys the core reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class NotifierSettings(BaseModel):
    """The keys every notifier accepts in ``service.yaml`` ``notify: <name>:``.

    ``batch``: failures that start within this many seconds of each other go out together.
    ``repeat``: remind about a workflow still failing after this long (0: never).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    batch: float = Field(default=60.0, ge=0)
    repeat: float = Field(default=0.0, ge=0)

    @field_validator("batch", "repeat", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        from avflow.models import parse_duration

        return parse_duration(v)


N = TypeVar("N", bound=NotifierSettings)


@dataclass(frozen=True)
class Failure:
    """One failing workflow to report.

    ``failures`` counts the failed runs of this burst so far; ``at`` is when this one failed.
    ``language`` is the reader's: the client's ``language:`` (``client.yaml``) when the notice
    goes to the client's own address, else ``en``; a notifier writes its notice in it.
    """

    client: str
    workflow: str
    run: str
    error: str | None
    scheduled_at: datetime | None
    at: datetime
    failures: int
    language: str = "en"


@dataclass(frozen=True)
class Notifier(Generic[N]):
    """A way to tell the AV that workflows are failing (``notify: <name>:`` in service.yaml).

    ``send(settings, failures, to)`` delivers one message about ``failures`` (one or more
    workflows). ``to`` is the client's own address for this notifier (``notify: {<name>: ...}``
    in its ``client.yaml``), or None: then the notifier's own settings say where. It is called
    from a thread of the service's; raising means "not delivered" (logged; tried again with the
    next failure of the burst).
    """

    name: str
    settings: type[N]
    send: Callable[[N, list[Failure], str | None], None]
    description: str = ""
