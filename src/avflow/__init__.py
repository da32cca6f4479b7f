"""avflow: an automation engine for freelance virtual assistants.

This module is the public API for plugins: import from ``avflow`` only. See docs/plugins.md and,
for how the core fits together, docs/architecture.md. Importing it changes no global state, and
costs almost nothing: each name is imported from its module the first time it is used (so
``avflow --help`` never pays for pydantic or the plugins).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    from avflow.api import (
        AccountRef,
        AccountType,
        Action,
        ClientInfo,
        CommandContext,
        Cursor,
        EffectBatch,
        EffectWords,
        OAuthScopes,
        StepContext,
        Trigger,
    )
    from avflow.approval_spec import ApprovalSpec
    from avflow.approval_types import Approval
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
    from avflow.lazyref import lazy
    from avflow.notifiers import Notifier, NotifierSettings
    from avflow.paths import (
        LocalPath,
        PathRefused,
        confine,
        confined_folder,
        open_confined,
    )
    from avflow.personal import Personal
    from avflow.pluginmarker import hookimpl, hookspec
    from avflow.runtypes import Account, EffectRecord, Failure, RunInfo, TriggerContext
    from avflow.worktime import (
        add_working_time,
        holiday_name,
        is_closed_day,
        is_holiday,
        is_working_time,
        local_to_utc,
        next_working_time,
    )
    from avflow.yamlfile import Doc as YamlDoc

# exported name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(
        [
            "AccountRef",
            "AccountType",
            "Action",
            "ClientInfo",
            "CommandContext",
            "Cursor",
            "EffectBatch",
            "EffectWords",
            "OAuthScopes",
            "StepContext",
            "Trigger",
        ],
        "avflow.api",
    ),
    **dict.fromkeys(
        ["Account", "EffectRecord", "Failure", "RunInfo", "TriggerContext"], "avflow.runtypes"
    ),
    **dict.fromkeys(
        [
            "AvflowError",
            "ConfigError",
            "EffectFailed",
            "EffectUnknown",
            "PluginError",
            "SecretError",
            "StepFailed",
        ],
        "avflow.errors",
    ),
    **dict.fromkeys(("atomic_write", "private_dir", "private_file"), "avflow.fsutil"),
    **dict.fromkeys(("Notifier", "NotifierSettings"), "avflow.notifiers"),
    **dict.fromkeys(
        ("LocalPath", "PathRefused", "confine", "confined_folder", "open_confined"), "avflow.paths"
    ),
    **dict.fromkeys(
        (
            "add_working_time",
            "holiday_name",
            "is_closed_day",
            "is_holiday",
            "is_working_time",
            "local_to_utc",
            "next_working_time",
        ),
        "avflow.worktime",
    ),
    "Personal": "avflow.personal",
    "lazy": "avflow.lazyref",
    "Approval": "avflow.approval_types",
    "ApprovalSpec": "avflow.approval_spec",
    "ApprovalRejected": "avflow.errors",
    "Progress": "avflow.console",
    "progress": "avflow.console",
    "track": "avflow.console",
    "hookimpl": "avflow.pluginmarker",
    "hookspec": "avflow.pluginmarker",
    "YamlDoc": "avflow.yamlfile:Doc",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'avflow' has no attribute {name!r}")
    module, _, attribute = module.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


def read_yaml(
    path: str | os.PathLike[str], *, text: str | None = None, first_line: int = 1
) -> YamlDoc:
    """Read a YAML file a user wrote as avflow reads workflows and profiles (YAML 1.2 values,
    one document, size and nesting limits, no links, UTF-8), or ``text`` taken from ``path``
    whose first line is line ``first_line`` of that file (front matter). Every problem is a
    `ConfigError` naming ``file:line:column``. The result's ``data`` is plain data (dicts,
    lists, text, numbers, booleans, None; dates stay text); ``locate(("key", 0, "sub"))`` gives
    the position of a key path, for errors found later (``str()`` of it is file:line:column)."""
    from pathlib import Path

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
    "ApprovalSpec",
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
    "add_working_time",
    "atomic_write",
    "command_context",
    "confine",
    "confined_folder",
    "holiday_name",
    "hookimpl",
    "hookspec",
    "is_closed_day",
    "is_holiday",
    "is_working_time",
    "lazy",
    "local_to_utc",
    "next_working_time",
    "open_confined",
    "private_dir",
    "private_file",
    "progress",
    "read_yaml",
    "track",
]
