"""avflow-social: a per-client content calendar published once to social networks and blogs.

Providers (one small class per network) come from the plugin's own hook,
`register_social_providers`; see `avflow_social.provider` and docs/social.md.
"""

from avflow_social.provider import (
    AuthExpired,
    ChannelSettings,
    LazyProvider,
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
