"""``avflow dashboard``: open the running service's dashboard in a browser (docs/dashboard.md).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import sys
import webbrowser

import click

from avflow.cli import Obj, pass_obj


def register(cli: click.Group) -> None:
    cli.add_command(dashboard)


def _url(obj: Obj) -> str | None:
    """The address the running service noted, or None when no service runs for this home."""
    from avflow.dashboard.server import URL_KEY
    from avflow.scheduler.service import service_lock
    from avflow.scheduler.store import ScheduleStore

    if not (obj.home / "state.db").exists() or not service_lock(obj.home).is_held_elsewhere():
        return None
    return ScheduleStore(obj.app.state).status().get(URL_KEY)


@click.command()
@click.option("--no-browser", is_flag=True, help="Only print the address.")
@pass_obj
def dashboard(obj: Obj, no_browser: bool) -> None:
    """Open the dashboard of the service running for this home folder in a browser.

    The login token is read from the home folder and handed to the login page in the address's
    fragment (never sent over the network). Prints the address when no browser can be opened.
    Exits 1 when no service runs for this home folder (start it with `avflow run`).
    """
    from avflow.dashboard.security import TOKEN_FILE

    url = _url(obj)
    if url is None:
        click.echo(
            f"no avflow service runs for {obj.home} (or its dashboard is off): start `avflow run`",
            err=True,
        )
        sys.exit(1)
    token_file = obj.home / TOKEN_FILE
    token = token_file.read_text().strip() if token_file.is_file() else ""
    if not no_browser and token and webbrowser.open(f"{url}login#token={token}"):
        click.echo(f"opened {url} in a browser")
        return
    click.echo(url)
    click.echo(f"log in with the token in {token_file}", err=True)
