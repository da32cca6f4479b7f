"""avflow: an automation engine for freelance virtual assistants.

This module is the public API for plugins: import from ``avflow`` only. See docs/plugins.md and,
for how the core fits together, docs/architecture.md. Importing it changes no global state.
"""

from avflow.api import (
    Account,
    AccountRef,
    AccountType,
    Action,
    ClientInfo,
    CommandContext,
    Cursor,
    EffectBatch,
    EffectRecord,
    EffectWords,
    OAuthScopes,
    RunInfo,
    StepContext,
    Trigger,
    TriggerContext,
)
from avflow.approvals import Approval
from avflow.console import Progress, progress, track
from avflow.errors import (
    ApprovalRejected,
    AvflowError,
    ConfigError,
    EffectFailed,
    EffectUnknown,
    PluginError,
    SecretError,
    StepFailed,
)
from avflow.fsutil import atomic_write, private_dir, private_file
from avflow.notifiers import Failure, Notifier, NotifierSettings
from avflow.paths import (
    LocalPath,
    PathRefused,
    confine,
    confined_folder,
    open_confined,
)
from avflow.personal import Personal
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
    "Approval",
    "ApprovalRejected",
    "AvflowError",
    "ClientInfo",
    "CommandContext",
    "ConfigError",
    "Cursor",
    "EffectBatch",
    "EffectFailed",
    "EffectRecord",
    "EffectUnknown",
    "EffectWords",
    "Failure",
    "LocalPath",
    "Notifier",
    "NotifierSettings",
    "OAuthScopes",
    "PathRefused",
    "Personal",
    "PluginError",
    "Progress",
    "RunInfo",
    "SecretError",
    "StepContext",
    "StepFailed",
    "Trigger",
    "TriggerContext",
    "__version__",
    "atomic_write",
    "command_context",
    "confine",
    "confined_folder",
    "hookimpl",
    "hookspec",
    "open_confined",
    "private_dir",
    "private_file",
    "progress",
    "track",
]
