"""``avflow init [DIR]`` and ``avflow client new ID``: a workflows folder and a client to start from.

What they write is valid as written (a test validates it) and commented, so the AV learns the
profile's keys by editing it. They never overwrite anything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from avflow.cli import Obj, pass_obj
from avflow.errors import UsageError
from avflow.paths import check_client_id, not_a_folder

PROFILE = """\
# {client_id}: one client of yours. The folder's name is the client's id everywhere
# (commands, audit trail, state). Reference: docs/workflows.md.
name: {name}                    # shown in the client's reports
timezone: Europe/Rome           # IANA name: schedules and reports use the client's local time
language: en                    # of the client's report and notifications: en, it
working_hours:                  # when `when: working_hours` lets a workflow run
  mon-fri: "09:00-13:00,14:00-18:00"
holidays: IT                    # public holidays of this country (ISO code) are closed
closed:                         # other closed days: a date, a range, or a day every year
  - "12-24/12-31"               #   every year from 24 to 31 December
  # - "2026-08-10/2026-08-14"   #   one summer week
accounts: {{}}                   # the client's mailboxes, calendars, archives; for example
#   mail: {{ type: imap, host: imap.example.com, username: you@example.com,
#           password: "${{secret:mail}}" }}       # avflow secrets set {client_id} mail
#   archive: {{ type: local, path: data/archive, create: true }}
# (`avflow plugins` lists the account types your plugins offer)
"""

WORKFLOW = """\
# A workflow: when it runs (on:) and what it does (steps:). `avflow validate` checks it,
# `avflow trigger {client_id}/hello --dry-run` shows what it would do. Reference: docs/workflows.md.
name: Hello
on:
  schedule:
    - cron: "0 9 * * mon-fri"   # in the client's timezone
  when: working_hours           # skip closed days and holidays
steps:
  - id: hello
    uses: core.log              # `avflow plugins` lists every action you can use
    with:
      message: "Good morning from {{{{ client.name }}}}"
# With the email plugin, a step that sorts the inbox looks like:
#  - uses: email.triage
#    with:
#      account: mail
#      rules:
#        - name: invoices
#          match: {{ subject: {{ contains: invoice }} }}
#          actions: [ {{ move: Invoices }} ]
"""


def register(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(client)


def write_client(workflows: Path, client_id: str) -> Path:
    """Write ``workflows/<client_id>/`` (client.yaml and hello.yaml); refuse an existing one."""
    check_client_id(client_id)
    folder = workflows / client_id
    if folder.exists() or folder.is_symlink():
        raise UsageError(f"client {client_id!r} already exists: {folder}")
    try:
        workflows.mkdir(parents=True, exist_ok=True)
        # written in a hidden folder (the loader and init pass over those), then renamed: a kill
        # midway leaves no client with half a client.yaml, and nothing that blocks a second try
        draft = Path(tempfile.mkdtemp(prefix=f".{client_id}.", dir=workflows))
    except OSError as exc:  # a link to nowhere, a file on the way, a read-only disk
        raise UsageError(f"cannot make {folder}: {_why(workflows, exc)}") from None
    try:
        os.chmod(draft, 0o777 & ~_umask())  # as mkdir would have made it
        name = client_id.replace("-", " ").replace("_", " ").title()
        (draft / "client.yaml").write_text(PROFILE.format(client_id=client_id, name=name))
        (draft / "hello.yaml").write_text(WORKFLOW.format(client_id=client_id))
        os.rename(draft, folder)  # fails if the folder appeared meanwhile: nothing overwritten
    except BaseException:
        shutil.rmtree(draft, ignore_errors=True)
        raise
    return folder


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _why(workflows: Path, exc: OSError) -> str:
    if workflows.is_symlink() and not workflows.exists():
        return f"{workflows} is a symbolic link to nowhere ({os.readlink(workflows)})"
    on_the_way = [p for p in (workflows, *workflows.parents) if p.exists() and not p.is_dir()]
    if on_the_way:
        return f"{on_the_way[-1]} is a file, not a folder"
    return exc.strerror or str(exc)


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@pass_obj
def init(obj: Obj, directory: Path | None) -> None:
    """Create a workflows folder (DIR, default the --workflows folder) with one commented
    client to start from."""
    root = directory or obj.workflows
    from avflow.process import resolve_home

    # the home was found for --workflows (and not checked when that failed): check it for DIR
    resolve_home(obj.home if obj.home_source == "--home" else None, root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    if root.is_dir() and any(p for p in root.iterdir() if not p.name.startswith(".")):
        raise UsageError(f"{root} is not empty: `avflow client new ID` adds a client to it")
    folder = write_client(root, "my-client")
    click.echo(f"created {folder}/client.yaml and {folder}/hello.yaml")
    click.echo(f"next: edit them, then `avflow --workflows {root} validate`")


@click.group()
def client() -> None:
    """Clients: add one."""


@client.command("new")
@click.argument("client_id", metavar="ID")
@pass_obj
def new(obj: Obj, client_id: str) -> None:
    """Add a client folder ID (client.yaml and a first workflow) to the workflows folder."""
    if obj.workflows.is_symlink() and not obj.workflows.exists():
        raise UsageError(f"cannot use {obj.workflows}: {_why(obj.workflows, OSError())}")
    if not obj.workflows.is_dir():  # a mistyped --workflows: no new folder made in passing
        if obj.workflows.exists():  # a file
            raise UsageError(f"{obj.workflows}: {not_a_folder(obj.workflows)}")
        raise UsageError(
            f"no workflows folder {obj.workflows}: `avflow init {obj.workflows}` makes one"
        )
    folder = write_client(obj.workflows, client_id)
    click.echo(f"created {folder}/client.yaml and {folder}/hello.yaml")
