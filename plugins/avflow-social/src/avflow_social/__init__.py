"""avflow-social: a per-client content calendar published once to social networks and blogs.

Providers (one small class per network) come from the plugin's own hook,
`register_social_providers`; see `avflow_social.provider` and docs/social.md.

The names below are imported when first asked for (``from avflow_social import Provider``):
loading the plugin (`avflow validate`) needs neither the provider classes nor their errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avflow_social.channel import ChannelSettings
    from avflow_social.lazyprovider import LazyProvider
    from avflow_social.provider import (
        AuthExpired,
        MediaFile,
        Outgoing,
        Provider,
        ProviderError,
        Published,
        RateLimited,
        Target,
    )

__all__ = [
    "AuthExpired",
    "ChannelSettings",
    "LazyProvider",
    "MediaFile",
    "Outgoing",
    "Provider",
    "ProviderError",
    "Published",
    "RateLimited",
    "Target",
]

_WHERE = {"ChannelSettings": "channel", "LazyProvider": "lazyprovider"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(f"avflow_social.{_WHERE.get(name, 'provider')}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
