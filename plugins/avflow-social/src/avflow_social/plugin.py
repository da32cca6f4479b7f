"""Hook implementations: what the social plugin registers with avflow."""

from __future__ import annotations

from typing import Any

import avflow
from avflow_social.provider import Provider


def providers(hook: Any) -> dict[str, Provider]:
    """Every provider registered through ``register_social_providers``, by name."""
    found: dict[str, Provider] = {}

    def register(provider: Any) -> None:
        if not isinstance(provider, Provider) or not provider.name:
            raise avflow.PluginError(
                "social", f"register_social_providers got {provider!r}, not a named Provider"
            )
        if provider.name in found:
            raise avflow.PluginError(
                "social", f"social provider {provider.name!r} is registered twice"
            )
        found[provider.name] = provider

    hook.register_social_providers(register=register)
    return found


@avflow.hookimpl
def register_hookspecs(register: Any) -> None:
    from avflow_social import hookspecs

    register(hookspecs)


@avflow.hookimpl
def register_social_providers(register: Any) -> None:
    from avflow_social.providers.bluesky import Bluesky
    from avflow_social.providers.facebook import Facebook
    from avflow_social.providers.linkedin import LinkedIn
    from avflow_social.providers.mastodon import Mastodon
    from avflow_social.providers.outbox import Outbox
    from avflow_social.providers.webhook import Webhook
    from avflow_social.providers.wordpress import WordPress

    builtin = (Outbox(), Webhook(), WordPress(), Mastodon(), Bluesky(), LinkedIn(), Facebook())
    for provider in builtin:
        register(provider)


@avflow.hookimpl
def register_account_types(register: Any, hook: Any) -> None:
    for provider in providers(hook).values():
        register(avflow.AccountType(provider.name, provider.settings, provider.description))


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
