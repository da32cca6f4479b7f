"""Building the one plugin manager of a process, and the registry of what plugins offer.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from avflow import hookspecs
from avflow.api import AccountType, Action, EffectWords, OAuthScopes, Trigger
from avflow.entrypoints import BLOCK_ENV, DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP
from avflow.errors import PluginError
from avflow.notifiers import Notifier
from avflow.personal import personal_fields

__all__ = [
    "BLOCK_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "Registry",
]


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name."""

    actions: dict[str, Action[Any]] = field(default_factory=dict)
    account_types: dict[str, AccountType[Any]] = field(default_factory=dict)
    triggers: dict[str, Trigger[Any]] = field(default_factory=dict)
    notifiers: dict[str, Notifier[Any]] = field(default_factory=dict)
    oauth_scopes: dict[str, OAuthScopes] = field(default_factory=dict)  # "google:imap" -> ...
    # field names the actions' outputs models mark avflow.Personal (masked in audit records)
    personal: frozenset[str] = frozenset()
    # effect kind -> language -> plain words, from the actions' ``effects`` (the client report)
    effect_words: dict[str, dict[str, EffectWords]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # "action:email.triage" -> plugin name
    disabled: dict[str, str] = field(default_factory=dict)  # plugins that did not import -> why
    blocked: frozenset[str] = frozenset()  # plugin names blocked (AVFLOW_BLOCK_PLUGINS, block=)
    autoload: bool = True  # False: installed entry-point plugins were not loaded
    loaded: frozenset[str] = frozenset()  # the names of the plugins loaded


class PluginManager:
    """A typed wrapper over pluggy's manager: loading, blocking, and the registry."""

    def __init__(
        self,
        *,
        autoload: bool | None = None,
        plugins_dirs: Iterable[Path] = (),
        block: Iterable[str] = (),
        extra: Iterable[tuple[str, object]] = (),
    ) -> None:
        self.pm = pluggy.PluginManager("avflow")
        self.pm.add_hookspecs(hookspecs)
        blocked = set(block) | {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
        for name in blocked:
            self.pm.set_blocked(name)
        from avflow import builtin

        self.pm.register(builtin, name="core")
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        #: plugins that could not be imported, disabled: name -> why (one line)
        self.broken: dict[str, str] = {}
        if autoload:
            self._load_entry_points()
        for directory in plugins_dirs:
            for name, module in _load_dir(directory, self.broken):
                if not self.pm.is_blocked(name):
                    self.pm.register(module, name=name)
        for name, plugin in extra:
            self.pm.register(plugin, name=name)
        try:
            self.pm.hook.register_hookspecs(register=self.pm.add_hookspecs)
        except Exception as exc:
            raise PluginError("register_hookspecs", str(exc)) from None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(getattr(exc, "plugin_name", "?"), str(exc)) from None
        self.registry = self._collect()
        self.registry.disabled = dict(self.broken)
        self.registry.blocked = frozenset(blocked)
        self.registry.autoload = autoload
        self.registry.loaded = frozenset(self.plugin_names())

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugin_names(self) -> list[str]:
        return sorted(name for name, _ in self.pm.list_name_plugin())

    def _load_entry_points(self) -> None:
        """Import each plugin of the ``avflow`` entry-point group. One that fails to import is
        disabled (the reason kept in `broken`); the others load as usual."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.is_blocked(ep.name) or self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party plugin must not stop avflow
                self.broken[ep.name] = f"cannot be imported ({ep.value}): {_one_line(exc)}"
                continue
            self.pm.register(plugin, name=ep.name)

    def _call_register(self, plugin: object, name: str, kind: str, register: Any) -> None:
        hook_name = f"register_{kind}s"
        impl = getattr(plugin, hook_name, None)
        if impl is None or self.pm.parse_hookimpl_opts(plugin, hook_name) is None:
            return
        kwargs: dict[str, Any] = {"register": register}
        if "hook" in inspect.signature(impl).parameters:
            kwargs["hook"] = self.pm.hook
        try:
            impl(**kwargs)
        except (PluginError, ImportError):
            raise
        except Exception as exc:
            raise PluginError(name, f"{hook_name} failed: {exc}") from None

    def warnings(self) -> list[str]:
        """One line per disabled plugin, for the command line to print on stderr."""
        return [f"warning: plugin {n} disabled: {why}" for n, why in sorted(self.broken.items())]

    def _collect(self) -> Registry:
        reg = Registry()

        def adder(kind: str, table: dict[str, Any], cls: Any) -> Any:
            def register(item: Any) -> None:  # item: Action | AccountType | Trigger | Notifier
                if not isinstance(item, cls):  # a plugin bug: say which plugin
                    raise PluginError(
                        current, f"register_{kind}s got {item!r}, not a {cls.__name__}"
                    )
                if item.name in table:
                    other = reg.owners[f"{kind}:{item.name}"]
                    raise PluginError(
                        current, f"{kind} {item.name!r} is already registered by {other}"
                    )
                table[item.name] = item
                reg.owners[f"{kind}:{item.name}"] = current

            return register

        current = "?"
        tables: dict[str, tuple[dict[str, Any], type]] = {
            "action": (reg.actions, Action),
            "account_type": (reg.account_types, AccountType),
            "trigger": (reg.triggers, Trigger),
            "notifier": (reg.notifiers, Notifier),
            "oauth_scope": (reg.oauth_scopes, OAuthScopes),
        }
        for name, plugin in self.pm.list_name_plugin():
            current = name or "?"
            try:
                for kind, (table, cls) in tables.items():
                    self._call_register(plugin, current, kind, adder(kind, table, cls))
            except ImportError as exc:  # a dependency missing at registration: as at import
                self.broken[current] = f"cannot be imported: {_one_line(exc)}"
                for key, owner in list(reg.owners.items()):
                    if owner == current:
                        kind, item = key.split(":", 1)
                        tables[kind][0].pop(item, None)
                        del reg.owners[key]
                self.pm.unregister(name=current)
        reg.personal = frozenset(
            name.lower()
            for action in reg.actions.values()
            if action.outputs is not None
            for name in personal_fields(action.outputs)
        )
        for action in reg.actions.values():
            for kind, languages in action.effects.items():
                reg.effect_words.setdefault(kind, {}).update(languages)
        return reg

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; a plugin that fails is logged, never fatal to the run."""
        import structlog

        try:
            getattr(self.pm.hook, hook_name)(**kwargs)
        except Exception as exc:
            structlog.get_logger("avflow").warning(
                "lifecycle hook failed", hook=hook_name, error=str(exc)
            )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ImportError) else text


def _load_dir(directory: Path, broken: dict[str, str]) -> list[tuple[str, ModuleType]]:
    """Import every ``*.py`` module of a loose plugins folder (``--plugins-dir``); one that fails
    to import is left out, with the reason in ``broken``."""
    if not directory.is_dir():
        raise PluginError(str(directory), "plugins folder does not exist")
    modules = []
    for path in sorted(directory.glob("*.py")):
        name = f"avflow_local_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            broken[name] = f"cannot be imported ({path}): {_one_line(exc)}"
            continue
        modules.append((name, module))
    return modules
