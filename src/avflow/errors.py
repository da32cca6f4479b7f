"""Errors avflow raises, and how each is shown to the user.

The hierarchy::

    AvflowError                 anything avflow reports without a traceback
    ├── ConfigError             a mistake in a file the user wrote (file, line, column)
    │   └── ConfigErrors        several of them at once
    ├── UsageError              a wrong command-line argument or a missing file
    ├── PluginError             a plugin that cannot be loaded or breaks the API
    ├── SecretError             a vault that cannot be read or a secret that is missing
    ├── StepFailed              a step that failed (after its retries)
    │   └── EffectFailed        raised by an effect's perform(): certainly not done, safe to retry
    └── EffectUnknown           an effect whose outcome cannot be established

    ApprovalPending             (BaseException) a step waits for a person's decision
    ApprovalRejected            (BaseException) that decision was "reject": the run stops

The two approval signals are not errors and derive from ``BaseException``, so that an action's
``except Exception`` cannot swallow them (docs/approvals.md).

`AvflowError` subclasses carry an ``exit_code``: 2 for bad input or configuration, 1 for a run
that failed. The command line prints ``str(error)`` and exits with that code.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from avflow.approval_types import Approval


class AvflowError(Exception):
    """Base class: an error that has been handled, shown as plain lines, never a traceback."""

    exit_code = 2


@final
@dataclass(frozen=True)
class Location:
    """Where in a user's file something is (1-based line and column)."""

    file: Path | str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [str(self.file)]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class ValueErrorAt(ValueError):
    """A validator's ``ValueError`` about one part of its field's value: ``at`` holds the keys
    below the field, so the error points at that part's line (``holidays: {subdiv: ZZ}``)."""

    def __init__(self, message: str, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.at = at


class ConfigError(AvflowError):
    """A mistake in a workflow, profile or other user-written file."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class ConfigErrors(ConfigError):
    """Several configuration errors, reported together, one per line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class UsageError(AvflowError):
    """A command-line mistake: an unknown client, a missing argument, a bad option value."""


class PluginError(AvflowError):
    """A plugin that cannot be loaded, or that registers something invalid."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin}: {message}")
        self.plugin = plugin


class SecretError(AvflowError):
    """The vault cannot be opened, or a secret is missing."""


class StepFailed(AvflowError):
    """A step failed after its retries. Raised by actions to fail with a clean message."""

    exit_code = 1


class EffectFailed(StepFailed):
    """Raised by an effect's ``perform()`` when the remote system certainly did not do it.

    The ledger records the effect as ``failed`` and it may be tried again (on the step's retry or
    when the run resumes). Any other exception leaves the effect's outcome unknown.
    """


class EffectUnknown(AvflowError):
    """An effect's outcome is unknown and it can neither be checked nor repeated safely.

    The run stops; the AV settles it with ``avflow effects resolve RUN KEY --done|--not-done``.
    """

    exit_code = 1


class ApprovalPending(BaseException):
    """The step waits for a decision: the engine stores the request (or finds it stored).

    Raised by `StepContext.request_approval`; never caught by an action.
    """

    def __init__(self, request: Any, existing: Approval | None = None) -> None:
        super().__init__(getattr(request, "summary", "waiting for approval"))
        self.request = request
        self.existing = existing


class ApprovalRejected(BaseException):
    """The approval was rejected (or expired with ``default: reject``): the run stops as
    ``rejected``, not failed. An action may catch it to clean up, and must re-raise it."""

    def __init__(self, approval: Approval) -> None:
        reason = f": {approval.reason}" if approval.reason else ""
        super().__init__(f"approval {approval.id} {approval.status}{reason}")
        self.approval = approval
