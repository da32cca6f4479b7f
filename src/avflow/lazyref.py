"""`avflow.lazy`: a plugin's function imported the first time it is called.

A plugin's entry point is imported by every ``avflow`` command that loads plugins (``validate``,
``next``...), which need only its models. Registering ``avflow.lazy("pkg.actions:run")`` instead
of the function itself leaves ``pkg.actions`` and what it imports (HTTP clients, parsers) until
a step actually runs (docs/plugins.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from avflow.errors import PluginError


class lazy:  # used like a function: avflow.lazy("module:function")
    """The function named ``"package.module:function"``, imported at its first call."""

    __slots__ = ("_target", "reference")

    def __init__(self, reference: str) -> None:
        module, sep, name = reference.partition(":")
        if not (sep and module and name):
            raise ValueError(f"avflow.lazy({reference!r}): expected 'package.module:function'")
        self.reference = reference
        self._target: Any = None

    def resolve(self) -> Any:
        """Import the module (once) and return the function."""
        if self._target is None:
            module, _, name = self.reference.partition(":")
            try:
                target: Any = importlib.import_module(module)
                for part in name.split("."):
                    target = getattr(target, part)
            except (ImportError, AttributeError) as exc:
                raise PluginError(
                    module.split(".")[0], f"cannot load {self.reference}: {exc}"
                ) from None
            self._target = target
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"avflow.lazy({self.reference!r})"


def resolved(value: Any) -> Any:
    """``value`` itself, or what it names when it is an `avflow.lazy` reference (imported once):
    how a registration's model given either way (``settings``, ``params``) is read."""
    return value.resolve() if isinstance(value, lazy) else value
