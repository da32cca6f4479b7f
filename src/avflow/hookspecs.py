"""The avflow plugin API: every hook a plugin may implement.

Hooks are called with keyword arguments, so an implementation takes only the arguments it needs,
and arguments added later never break an existing plugin. Implement them with
``@avflow.hookimpl``. This module is the reference; docs/plugins.md explains it with examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from avflow.api import AccountType, Action, RunInfo, Trigger
    from avflow.notifiers import Notifier

hookspec = pluggy.HookspecMarker("avflow")

# --------------------------------------------------------------------------------------------
# Registration: called once when the plugin manager is built.
# --------------------------------------------------------------------------------------------


@hookspec
def register_actions(register: Callable[[Action[Any]], None]) -> None:
    """Register step types.

    :param register: call it once per `avflow.Action` the plugin offers. Action names are
        ``<plugin>.<action>`` (``email.triage``); a name registered twice is an error.
    """


@hookspec
def register_account_types(register: Callable[[AccountType[Any]], None]) -> None:
    """Register kinds of account a client profile may declare.

    :param register: call it once per `avflow.AccountType` (``type: imap`` in ``client.yaml``).
    """


@hookspec
def register_triggers(register: Callable[[Trigger[Any]], None]) -> None:
    """Register event triggers a workflow may list under ``on: events:``.

    :param register: call it once per `avflow.Trigger`.
    """


@hookspec
def register_notifiers(register: Callable[[Notifier[Any]], None]) -> None:
    """Register ways to tell the AV that workflows are failing.

    :param register: call it once per `avflow.Notifier`; ``service.yaml`` configures it under
        ``notify: <name>:``. The core decides when to notify (failure bursts, batching,
        reminders); the notifier only delivers.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands or command groups to the ``avflow`` command line.

    :param cli: the root click group; add to it with ``cli.add_command(...)``.
    """


# --------------------------------------------------------------------------------------------
# Lifecycle: notifications while runs execute. Exceptions raised here are logged, not fatal.
# --------------------------------------------------------------------------------------------


@hookspec
def run_started(run: RunInfo) -> None:
    """A run has started (or resumed after an interruption).

    :param run: the run: client, workflow, key, scheduled time, trigger, dry-run flag.
    """


@hookspec
def step_finished(run: RunInfo, step: str, status: str, error: str | None) -> None:
    """A step has finished.

    :param run: the run the step belongs to.
    :param step: the step's id.
    :param status: ``succeeded``, ``failed`` or ``skipped``.
    :param error: the error message when the step failed, secrets redacted.
    """


@hookspec
def run_finished(run: RunInfo, status: str, error: str | None) -> None:
    """A run has finished; notifiers use it to report failures.

    :param run: the run.
    :param status: ``succeeded``, ``failed`` or ``skipped``.
    :param error: the error message when the run failed, secrets redacted.
    """
