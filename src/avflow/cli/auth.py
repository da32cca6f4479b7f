"""``avflow auth``: sign in to Google, Microsoft or another OAuth provider for one client.

The refresh token goes to the client's vault under the name given, for ``${secret:NAME}``
in an account's settings; it is never printed. The scopes asked for are the union of those the
client's accounts need, as the plugins declare them (`avflow.OAuthScopes`), plus any --scope:
one sign-in per client Google account covers Gmail, Calendar and Drive. The OAuth app's client secret is read
from the vault (``--client-secret-name``) or asked for without echo, never taken from argv.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import click

from avflow import signin

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("client_id", metavar="CLIENT"),
        click.argument("secret_name", metavar="SECRET_NAME"),
        click.option("--client-id", "app_id", required=True, help="The OAuth app's client id."),
        click.option(
            "--client-secret-name",
            metavar="NAME",
            help="The vault secret holding the app's client secret; asked for (and stored "
            "under NAME) when the vault has none.",
        ),
        click.option(
            "--scope",
            "scopes",
            multiple=True,
            help="A scope to ask for besides those the client's accounts need (repeatable).",
        ),
        click.option("--no-browser", is_flag=True, help="Only print the address to open."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1),
            default=300,
            show_default=True,
            help="Seconds to wait for the browser.",
        ),
        click.option("--auth-uri", help="Override the authorization endpoint."),
        click.option("--token-uri", help="Override the token endpoint."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group("auth")
def auth_group() -> None:
    """Sign in to an OAuth provider; keep the refresh token in a client's vault."""


@auth_group.command("google")
@_common
@click.pass_obj
def google_cmd(obj: Any, **kw: Any) -> None:
    """Sign in with Google for every scope the client's accounts use (Gmail, Calendar, Drive)."""
    _run(signin.google(_scopes(obj, "google", kw)), **kw)


@auth_group.command("microsoft")
@click.option("--tenant", default="common", show_default=True, help="Directory (tenant) id.")
@_common
@click.pass_obj
def microsoft_cmd(obj: Any, tenant: str, **kw: Any) -> None:
    """Sign in with Microsoft 365 / Outlook.com for every scope the client's accounts use."""
    _run(signin.microsoft(tenant, _scopes(obj, "microsoft", kw)), **kw)


def _scopes(obj: Any, provider: str, kw: dict[str, Any]) -> tuple[str, ...]:
    """The union of the scopes the client's accounts need from ``provider``, then --scope."""
    client_id = kw["client_id"]
    profile = obj.workflows / client_id / "client.yaml"
    if "/" in client_id or not profile.is_file():
        raise signin.SigninError(f"unknown client {client_id!r}: no {profile}")
    from avflow import yamlfile

    # Read as written (the profile may already name the secret this command stores, so it is
    # not loaded), through the one YAML reader: its mistakes are one line at file:line:column.
    data = yamlfile.read_doc(profile).data
    accounts = data.get("accounts") if isinstance(data, dict) else None
    wanted: dict[str, None] = {}
    declared = [d for d in obj.pm.registry.oauth_scopes.values() if d.provider == provider]
    for settings in (accounts or {}).values():
        if not isinstance(settings, dict):
            continue
        for d in declared:
            if settings.get("type") == d.account_type and (
                d.applies is None or d.applies(settings)
            ):
                wanted.update(dict.fromkeys(d.scopes))
    wanted.update(dict.fromkeys(kw["scopes"]))
    if not wanted:
        raise signin.SigninError(
            f"client {client_id!r} has no account that signs in with {provider}: "
            "add the account to client.yaml first, or name scopes with --scope"
        )
    return tuple(wanted)


@auth_group.command("oauth")
@_common
def oauth_cmd(**kw: Any) -> None:
    """Sign in with any OAuth 2.0 provider (give --auth-uri, --token-uri and --scope)."""
    if not kw["auth_uri"] or not kw["token_uri"]:
        raise signin.SigninError("avflow auth oauth needs --auth-uri and --token-uri")
    _run(signin.Provider("oauth", kw["auth_uri"], kw["token_uri"], tuple(kw["scopes"])), **kw)


def _run(
    provider: signin.Provider,
    *,
    client_id: str,
    secret_name: str,
    app_id: str,
    client_secret_name: str | None,
    no_browser: bool,
    timeout: float,
    auth_uri: str | None,
    token_uri: str | None,
    **_: Any,
) -> None:
    ctx = _command_context()
    folder = ctx.workflows / client_id
    if "/" in client_id or not (folder / "client.yaml").is_file():
        # Not ctx.client(): the client's files may already name the secret this stores.
        raise signin.SigninError(f"unknown client {client_id!r}: no {folder / 'client.yaml'}")
    for name in (secret_name, client_secret_name):
        if name is not None and not SECRET_NAME.match(name):
            raise signin.SigninError(f"secret name {name!r} must be letters, digits, _ . or -")
    if auth_uri or token_uri:
        provider = signin.Provider(
            provider.name,
            auth_uri or provider.auth_uri,
            token_uri or provider.token_uri,
            provider.scopes,
            provider.auth_params,
        )
    signin.check_endpoint("authorization endpoint", provider.auth_uri)
    signin.check_endpoint("token endpoint", provider.token_uri)
    client_secret, ask = None, False
    if client_secret_name:
        client_secret = ctx.get_secret(client_id, client_secret_name)
        if client_secret is None:
            client_secret = _ask_client_secret(app_id, client_secret_name)
            ask = True
    tokens = signin.sign_in(
        provider,
        app_id,
        client_secret,
        say=lambda text: click.echo(text),
        open_browser=not no_browser,
        timeout=timeout,
    )
    ctx.set_secret(client_id, secret_name, tokens.refresh_token)
    if ask and client_secret_name and client_secret:
        ctx.set_secret(client_id, client_secret_name, client_secret)
    click.echo(
        f"Signed in with {provider.name}: the refresh token is secret {secret_name!r} "
        f"of client {client_id!r} (scopes: {' '.join(tokens.scopes)})."
    )
    lines = ["auth: xoauth2", "oauth:", f"  client_id: {app_id}"]
    if client_secret_name:
        lines.append(f'  client_secret: "${{secret:{client_secret_name}}}"')
    lines += [f'  refresh_token: "${{secret:{secret_name}}}"', f"  token_uri: {provider.token_uri}"]
    if provider.name != "google":
        lines.append(f"  scopes: [{', '.join(tokens.scopes)}]")
    click.echo("Account settings:\n" + "\n".join("    " + line for line in lines))


def register(cli: click.Group) -> None:
    cli.add_command(auth_group)


def _ask_client_secret(app_id: str, name: str) -> str:
    """The OAuth app's client secret, typed without echo (or piped on stdin), never argv."""
    if sys.stdin is not None and sys.stdin.isatty():
        value = click.prompt(
            f"Client secret of OAuth app {app_id} (kept as secret {name!r})",
            hide_input=True,
            err=True,
        )
    else:
        value = sys.stdin.readline() if sys.stdin is not None else ""
    value = value.strip()
    if not value:
        raise signin.SigninError(
            f"the vault has no client secret {name!r} and none was typed (or piped on stdin)"
        )
    return value


def _command_context() -> Any:
    from avflow.cli import command_context

    return command_context()
