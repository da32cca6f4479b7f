"""What a failure notifier plugin registers, and what it is handed (see docs/plugins.md).

The core decides *when* the AV is told that a workflow is failing (the first failure after a
success, failures close together in one message, reminders); a notifier decides *how*: the email
plugin sends a mail, another plugin could post to a chat. A notifier is configured in
``service.yaml`` under ``notify: <name>:``; its settings model extends `NotifierSettings`, whose
``batch`` and ``repeat`` keys the core reads.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avflow.lazyref import lazy, resolved

if TYPE_CHECKING:
    from avflow.runtypes import Failure


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
class Notifier(Generic[N]):
    """A way to tell the AV that workflows are failing (``notify: <name>:`` in service.yaml).

    ``send(settings, failures, to)`` delivers one message about ``failures`` (one or more
    workflows). ``to`` is the client's own address for this notifier (``notify: {<name>: ...}``
    in its ``client.yaml``), or None: then the notifier's own settings say where. It is called
    from a thread of the service's; raising means "not delivered" (logged; tried again with the
    next failure of the burst).

    ``settings`` (and ``send``) may be ``avflow.lazy("package.module:name")`` references: the
    module is imported when ``service.yaml`` configures the notifier (or it sends); read the model
    through `settings_model`.
    """

    name: str
    settings: type[N] | lazy
    send: Callable[[N, list[Failure], str | None], None]
    description: str = ""

    @property
    def settings_model(self) -> type[N]:
        """The settings model, imported first if it was given as `avflow.lazy`."""
        model: type[N] = resolved(self.settings)
        return model


def __getattr__(name: str) -> Any:
    """`Failure` moved to `avflow.runtypes` (what only a running service hands a plugin);
    ``from avflow.notifiers import Failure`` still works (plugins import it from ``avflow``)."""
    if name == "Failure":
        from avflow.runtypes import Failure

        return Failure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
