"""avflow: an automation engine for freelance virtual assistants.

This module is the public API for plugins: import from ``avflow`` only. See docs/plugins.md.
"""

import sys as _sys

if "structlog" not in _sys.modules and "rich" not in _sys.modules:
    # structlog imports rich, pygments and attrs at once, only to draw tracebacks, which avflow
    # never prints: 4 MB of the service's memory. Import it with rich hidden, then unhide rich.
    _sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del _sys.modules["rich"]

from avflow.api import (
    Account,
    AccountRef,
    AccountType,
    Action,
    ClientInfo,
    CommandContext,
    Cursor,
    EffectRecord,
    RunInfo,
    StepContext,
    Trigger,
    TriggerContext,
)
from avflow.errors import (
    AvflowError,
    ConfigError,
    EffectUnknown,
    PluginError,
    SecretError,
    StepFailed,
)
from avflow.notifiers import Failure, Notifier, NotifierSettings
from avflow.pluginmarker import hookimpl, hookspec


def command_context() -> CommandContext:
    """Inside a plugin's CLI command: the home folder, workflows, project and plugin data dirs."""
    from avflow.cli import command_context as _current

    return _current()


__version__ = "0.1.0"

__all__ = [
    "Account",
    "AccountRef",
    "AccountType",
    "Action",
    "AvflowError",
    "ClientInfo",
    "CommandContext",
    "ConfigError",
    "Cursor",
    "EffectRecord",
    "EffectUnknown",
    "Failure",
    "Notifier",
    "NotifierSettings",
    "PluginError",
    "RunInfo",
    "SecretError",
    "StepContext",
    "StepFailed",
    "Trigger",
    "TriggerContext",
    "__version__",
    "command_context",
    "hookimpl",
    "hookspec",
]
