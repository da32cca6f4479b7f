"""``avflow secrets set|list|rm`` and ``avflow vault rotate``: the per-client vault."""

from __future__ import annotations

import os
import sys

import click

from avflow.cli import Obj, pass_obj
from avflow.errors import UsageError
from avflow.paths import client_folder


def register(cli: click.Group) -> None:
    cli.add_command(secrets)
    cli.add_command(vault)


def _client(obj: Obj, client: str) -> str:
    """The one client-id rule, then a real (not linked) client folder with a client.yaml."""
    client_folder(obj.workflows, client)
    return client


@click.group()
def secrets() -> None:
    """Manage a client's encrypted secrets (used as ${secret:NAME})."""


@secrets.command("set")
@click.argument("client")
@click.argument("name")
@pass_obj
def set_secret(obj: Obj, client: str, name: str) -> None:
    """Store a secret. The value is read from a prompt, or from stdin when piped; never from argv."""
    from avflow.errors import SecretError
    from avflow.vault import MAX_VALUE, TOO_BIG, check_secret

    _client(obj, client)
    check_secret(name, "")  # the name, before a value is asked for
    if sys.stdin.isatty():
        value = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        raw = sys.stdin.buffer.read(MAX_VALUE + 3)  # never the whole of a file piped by mistake
        if len(raw) > MAX_VALUE + 2:  # + a line end
            raise SecretError(TOO_BIG)
        try:  # the bytes, not the locale's reading of them (strict, or with surrogates)
            value = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UsageError("the secret value is not UTF-8 text: nothing stored") from None
    if not value:
        raise UsageError("empty secret value: nothing stored")
    obj.app.vault.set(client, name, value)
    click.echo(f"stored secret {name!r} for {client}")


@secrets.command("list")
@click.argument("client")
@pass_obj
def list_secrets(obj: Obj, client: str) -> None:
    """List a client's secret names (never values)."""
    _client(obj, client)
    names = obj.app.vault.names(client)
    for name in names:
        click.echo(name)
    if not names:  # on stderr: standard output stays the names alone; a mistyped --home shows
        gone = "" if os.path.lexists(obj.home) else "; it does not exist"
        home = f"{os.path.abspath(obj.home)} ({obj.home_source}{gone})"
        click.echo(f"no secrets for {client} (home: {home})", err=True)


@secrets.command("rm")
@click.argument("client")
@click.argument("name")
@pass_obj
def rm_secret(obj: Obj, client: str, name: str) -> None:
    """Remove a secret."""
    _client(obj, client)
    if not obj.app.vault.remove(client, name):
        raise UsageError(f"client {client!r} has no secret {name!r}")
    click.echo(f"removed secret {name!r} from {client}")


@click.group()
def vault() -> None:
    """The vault key (docs/secrets.md)."""


@vault.command("rotate")
@pass_obj
def rotate(obj: Obj) -> None:
    """Re-encrypt every client's vault with a new key, then retire the old key.

    Crash-safe: until every vault is re-encrypted the old key stays in place, and running the
    command again finishes an interrupted rotation."""
    count = obj.app.vault.rotate()
    click.echo(f"vault key rotated: {count} client vault(s) re-encrypted")
