"""Hook implementations: what the social plugin registers with avflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import avflow
from avflow_social.lazyprovider import LazyProvider

if TYPE_CHECKING:  # the provider classes: imported when a provider is given as an instance
    from avflow_social.provider import Provider


def _is_provider(value: Any) -> bool:
    """Whether ``value`` is a `Provider` instance; a plugin registering one has imported
    `avflow_social.provider` already, and the built-in networks are all `LazyProvider`."""
    if isinstance(value, LazyProvider):
        return False
    from avflow_social.provider import Provider

    return isinstance(value, Provider)


def declared(hook: Any) -> dict[str, Provider | LazyProvider]:
    """Every provider registered through ``register_social_providers``, by name, those given as
    `LazyProvider` not imported yet."""
    found: dict[str, Provider | LazyProvider] = {}

    def register(provider: Any) -> None:
        if not (isinstance(provider, LazyProvider) or _is_provider(provider)) or not provider.name:
            raise avflow.PluginError(
                "social",
                f"register_social_providers got {provider!r}, not a named Provider or LazyProvider",
            )
        if provider.name in found:
            raise avflow.PluginError(
                "social", f"social provider {provider.name!r} is registered twice"
            )
        found[provider.name] = provider

    hook.register_social_providers(register=register)
    return found


def providers(hook: Any) -> dict[str, Provider]:
    """Every provider registered through ``register_social_providers``, by name, imported."""
    return {
        name: p.provider() if isinstance(p, LazyProvider) else p
        for name, p in declared(hook).items()
    }


@avflow.hookimpl
def register_hookspecs(register: Any) -> None:
    from avflow_social import hookspecs

    register(hookspecs)


# The built-in networks, each imported when a profile declares a channel of its type or a post
# is published (importing all seven costs every `avflow validate` about 37 M instructions).
BUILTIN = (
    (
        "social_outbox",
        "outbox:Outbox",
        "A folder of JSON files, one per post and channel (demo, hand-off).",
    ),
    (
        "social_webhook",
        "webhook:Webhook",
        "A JSON POST per post to a URL (Make, Zapier, Buffer, your own).",
    ),
    ("wordpress", "wordpress:WordPress", "A WordPress site (REST API, application password)."),
    ("mastodon", "mastodon:Mastodon", "A Mastodon account (Mastodon.py)."),
    ("bluesky", "bluesky:Bluesky", "A Bluesky account (AT Protocol, app password)."),
    ("linkedin", "linkedin:LinkedIn", "A LinkedIn page or member (Posts API, OAuth with refresh)."),
    ("facebook_page", "facebook:Facebook", "A Facebook Page (Graph API)."),
)
# settings models kept apart from their provider's module: the demo's channels are checked
# without importing the outbox provider (and the provider classes it extends)
SETTINGS = {"social_outbox": "avflow_social.providers.outbox_settings:OutboxSettings"}


@avflow.hookimpl
def register_social_providers(register: Any) -> None:
    for name, where, description in BUILTIN:
        reference = f"avflow_social.providers.{where}"
        register(LazyProvider(name, reference, description, settings=SETTINGS.get(name)))


@avflow.hookimpl
def register_account_types(register: Any, hook: Any) -> None:
    for provider in declared(hook).values():
        if isinstance(provider, LazyProvider):
            settings: Any = avflow.lazy(provider.settings)
        else:
            settings = provider.settings
        register(avflow.AccountType(provider.name, settings, provider.description))


@avflow.hookimpl
def register_actions(register: Any, hook: Any) -> None:
    from avflow_social.params import PublishParams
    from avflow_social.words import EFFECTS

    def run(ctx: avflow.StepContext, params: PublishParams) -> dict[str, Any]:
        from avflow_social.publish import publish  # the publishing code: when a step runs

        return publish(ctx, params, providers(hook))

    register(
        avflow.Action(
            "social.publish",
            PublishParams,
            run,
            "Publish the content calendar's due, approved posts, once per channel.",
            effects=EFFECTS,
        )
    )


@avflow.hookimpl
def register_commands(cli: Any, hook: Any) -> None:
    from avflow_social.cli import make_group

    cli.add_command(make_group(lambda: providers(hook)))
