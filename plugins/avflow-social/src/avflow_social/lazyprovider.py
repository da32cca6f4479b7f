"""`LazyProvider`: a network registered by reference, its module imported when first needed.

Apart from `avflow_social.provider` so that loading the plugin (`avflow validate`, the service's
start-up) does not import the provider classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import avflow

if TYPE_CHECKING:  # imported when a provider is first asked for
    from avflow_social.provider import Provider


class LazyProvider:
    """A provider registered by reference: ``LazyProvider("myzine", "avflow_myzine.net:Myzine",
    "The Myzine community board.")``. Its module is imported the first time a client profile
    declares a channel of its type (the account type's settings come from the class's
    ``settings``), a post is published or a command lists the providers; until then `avflow
    validate` and the service's start-up do not pay for it. ``name`` and ``description`` must be
    the class's own. ``settings`` (optional) names the settings model apart,
    ``"package.module:Model"``, when it is in a lighter module than the class: a profile's
    channels are then checked without importing the class (it must be the class's
    ``settings``)."""

    __slots__ = ("_provider", "description", "name", "reference", "settings")

    def __init__(
        self, name: str, reference: str, description: str = "", *, settings: str | None = None
    ) -> None:
        self.name = name
        self.reference = reference  # "package.module:Class"
        self.description = description
        self.settings = settings or f"{reference}.settings"  # "package.module:Model"
        self._provider: Provider | None = None

    def provider(self) -> Provider:
        """An instance of the class (imported once); a `PluginError` if it is no Provider of
        that name."""
        if self._provider is None:
            from avflow_social.provider import Provider

            cls = avflow.lazy(self.reference).resolve()
            made = cls() if isinstance(cls, type) and issubclass(cls, Provider) else None
            if made is None or made.name != self.name:
                raise avflow.PluginError(
                    "social", f"{self.reference} is not the Provider {self.name!r}"
                )
            self._provider = made
        return self._provider

    def __repr__(self) -> str:
        return f"LazyProvider({self.name!r}, {self.reference!r})"
