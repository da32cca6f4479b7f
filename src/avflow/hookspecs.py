"""The avflow plugin API: every hook a plugin may implement.

Hooks are called with keyword arguments, so an implementation takes only the arguments it needs,
and arguments added later never break an existing plugin. Implement them with
``@avflow.hookimpl``. This module is the reference; docs/plugins.md explains it with examples.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from avflow.pluginmarker import hookspec

if TYPE_CHECKING:
    import click

    from avflow.api import AccountType, Action, OAuthScopes, Trigger
    from avflow.notifiers import Notifier
    from avflow.runtypes import RunInfo

# --------------------------------------------------------------------------------------------
# Registration: called once when the plugin manager is built.
# --------------------------------------------------------------------------------------------


@hookspec
def register_hookspecs(register: Callable[[ModuleType], None]) -> None:
    """Declare hooks of the plugin's own, so that other plugins can extend it (the social
    plugin's ``register_social_providers``). Called first, before any other hook.

    :param register: call it with a module whose functions are marked ``@avflow.hookspec``.
        The plugin calls its hooks through the ``hook`` argument of `register_actions` or
        `register_commands` (``hook.register_social_providers(register=...)``).
    """


@hookspec
def register_actions(register: Callable[[Action[Any]], None], hook: Any) -> None:
    """Register step types.

    :param register: call it once per `avflow.Action` the plugin offers. Action names are
        ``<plugin>.<action>`` (``email.triage``); a name registered twice is an error.
    :param hook: the plugin manager's hooks, to call hooks the plugin declared itself.
    """


@hookspec
def register_account_types(register: Callable[[AccountType[Any]], None], hook: Any) -> None:
    """Register kinds of account a client profile may declare.

    :param register: call it once per `avflow.AccountType` (``type: imap`` in ``client.yaml``).
    :param hook: the plugin manager's hooks, to call hooks the plugin declared itself.
    """


@hookspec
def register_triggers(register: Callable[[Trigger[Any]], None], hook: Any) -> None:
    """Register event triggers a workflow may list under ``on: events:``.

    :param register: call it once per `avflow.Trigger`.
    :param hook: the plugin manager's hooks, to call hooks the plugin declared itself.
    """


@hookspec
def register_notifiers(register: Callable[[Notifier[Any]], None], hook: Any) -> None:
    """Register ways to tell the AV that workflows are failing.

    :param register: call it once per `avflow.Notifier`; ``service.yaml`` configures it under
        ``notify: <name>:``. The core decides when to notify (failure bursts, batching,
        reminders); the notifier only delivers.
    :param hook: the plugin manager's hooks, to call hooks the plugin declared itself.
    """


@hookspec
def register_oauth_scopes(register: Callable[[OAuthScopes], None], hook: Any) -> None:
    """Declare the OAuth scopes the plugin's account types need, for ``avflow auth``.

    :param register: call it once per `avflow.OAuthScopes` (provider, account type, scopes,
        and optionally which accounts of the type use that provider).
    :param hook: the plugin manager's hook caller.
    """


@hookspec
def register_commands(cli: click.Group, hook: Any) -> None:
    """Add commands or command groups to the ``avflow`` command line.

    :param cli: the root click group; add to it with ``cli.add_command(...)``.
    :param hook: the plugin manager's hooks, to call hooks the plugin declared itself.
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
    """A run has finished; notifiers use it to report failures. A run that stops to wait for
    an approval has not finished: this is called when it ends, after the decision.

    :param run: the run.
    :param status: ``succeeded``, ``failed``, ``skipped`` or ``rejected`` (an approval was
        rejected: docs/approvals.md).
    :param error: the error message when the run failed, secrets redacted.
    """
