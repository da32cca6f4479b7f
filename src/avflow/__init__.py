"""avflow: an automation engine for freelance virtual assistants.

This module is the public API for plugins: import from ``avflow`` only. See docs/plugins.md and,
for how the core fits together, docs/architecture.md. Importing it changes no global state.
"""

import os
from pathlib import Path

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
from avflow.yamlfile import Doc as YamlDoc


def read_yaml(
    path: str | os.PathLike[str], *, text: str | None = None, first_line: int = 1
) -> YamlDoc:
    """Read a YAML file a user wrote as avflow reads workflows and profiles (YAML 1.2 values,
    one document, size and nesting limits, no links, UTF-8), or ``text`` taken from ``path``
    whose first line is line ``first_line`` of that file (front matter). Every problem is a
    `ConfigError` naming ``file:line:column``. The result's ``data`` is plain data (dicts,
    lists, text, numbers, booleans, None; dates stay text); ``locate(("key", 0, "sub"))`` gives
    the position of a key path, for errors found later (``str()`` of it is file:line:column)."""
    from avflow import yamlfile

    if text is None:
        return yamlfile.read_doc(Path(path))
    return yamlfile.parse("\n" * max(0, first_line - 1) + text, Path(path))


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
    "YamlDoc",
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
    "read_yaml",
    "track",
]
