"""What the core hands a plugin's code while it runs: a run, a resolved account, an effect as
the ledger holds it, a trigger's context, a failure a notifier reports. `avflow/__init__.py`
re-exports them, as the rest of `avflow.api`; they live apart because no command that only checks
the workflows (``avflow validate``, ``next``) needs them, and each dataclass costs its generated
methods' compilation at import (docs/operations.md, "Command-line start-up").

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from avflow.clientinfo import ClientInfo

S = TypeVar("S", bound="BaseModel")


@dataclass(frozen=True)
class RunInfo:
    """One execution of a workflow."""

    id: str
    key: str
    client: str
    workflow: str
    scheduled_at: datetime | None
    trigger: str
    dry_run: bool
    event: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Account(Generic[S]):
    """A resolved account: its settings with secrets filled in."""

    name: str
    type: str
    settings: S


@dataclass
class EffectRecord:
    """An effect as the ledger holds it."""

    key: str
    kind: str
    description: str
    status: str  # done | failed | unknown | pending (being performed) | dry-run
    result: Any = None
    run_id: str = ""
    step: str = ""
    scope: str = "run"  # run | workflow | client


@dataclass
class TriggerContext:
    """What a trigger's ``watch`` is handed."""

    client: ClientInfo
    workflow: str
    account: Callable[[str], Account[Any]]
    fire: Callable[[Mapping[str, Any]], None]
    log: Any
    stopping: threading.Event = field(default_factory=threading.Event)
    #: ``$AVFLOW_HOME/plugins/<plugin>/``: where a trigger keeps what must survive a restart
    #: (a sync token, what it has already fired for); None where no home is known.
    data_dir: Path | None = None


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
