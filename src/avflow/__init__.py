"""avflow: an automation engine for freelance virtual assistants.

This module is the public API for plugins: import from ``avflow`` only. See docs/plugins.md.
"""

from avflow.api import (
    Account,
    AccountRef,
    AccountType,
    Action,
    ClientInfo,
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
from avflow.pluginmarker import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Account",
    "AccountRef",
    "AccountType",
    "Action",
    "AvflowError",
    "ClientInfo",
    "ConfigError",
    "Cursor",
    "EffectRecord",
    "EffectUnknown",
    "PluginError",
    "RunInfo",
    "SecretError",
    "StepContext",
    "StepFailed",
    "Trigger",
    "TriggerContext",
    "__version__",
    "hookimpl",
]
