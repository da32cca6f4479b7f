"""``avflow effects show RUN`` and ``avflow effects resolve RUN KEY --done|--not-done``.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import getpass
import os
import sys

import click

from avflow.cli import Obj, pass_obj, utf8_arg
from avflow.errors import ConfigError, ConfigErrors, UsageError


def register(cli: click.Group) -> None:
    cli.add_command(effects)


@click.group()
def effects() -> None:
    """The effects of a run, and settling one whose outcome is unknown."""


@effects.command()
@click.argument("run")
@pass_obj
def show(obj: Obj, run: str) -> None:
    """List a run's effects with their status (done, failed, unknown, dry-run)."""
    app = obj.reading()
    if app.state.run_by_id(utf8_arg(run, "run")) is None:
        missing = app.missing_state()
        where = f" in the home folder {os.path.abspath(obj.home)} ({obj.home_source}): {missing}"
        raise UsageError(f"no run {run!r}{where if missing else ''} (see `avflow runs`)")
    records = app.ledger.of_run(run)
    for e in records:
        click.echo(f"{e.status:8} {e.scope:8} {e.key}  [{e.kind}] {e.description}")
    if not records:
        click.echo("no effects")


@effects.command()
@click.argument("run")
@click.argument("key")
@click.option("--done", is_flag=True, help="It happened: never perform it again.")
@click.option("--not-done", is_flag=True, help="It did not happen: perform it on resume.")
@click.option(
    "--scope",
    type=click.Choice(["run", "workflow", "client"]),
    default=None,
    help="The key's scope, if the run has the key in several.",
)
@click.option("--no-resume", is_flag=True, help="Only record the answer; do not resume the run.")
@pass_obj
def resolve(
    obj: Obj, run: str, key: str, done: bool, not_done: bool, scope: str | None, no_resume: bool
) -> None:
    """Settle an effect whose outcome is unknown, after checking the remote system yourself.

    The answer goes into the client's audit trail; then the run resumes from that step (exit 1 if
    it fails again).
    """
    if done == not_done:  # neither, or both (the last one given would otherwise win)
        raise UsageError("say what you found: --done or --not-done (one of them)")
    outcome = "done" if done else "not-done"
    utf8_arg(run, "run")
    utf8_arg(key, "effect key")
    app = obj.app
    row = app.state.run_by_id(run)
    if row is None:
        raise UsageError(f"no run {run!r} (see `avflow runs`)")
    record = app.ledger.resolve(run, key, outcome == "done", scope, by=getpass.getuser())
    click.echo(f"effect {key!r} of run {run} recorded as {outcome}")
    if row["status"] != "failed" or no_resume:
        return
    app.state.reopen_run(run, record.step)
    ref, wf = f"{row['client']}/{row['workflow']}", None
    try:
        wf = app.focus(row["client"]).clients[row["client"]].workflows.get(row["workflow"])
        problem = None if wf is not None else "its workflow file is gone"
    except (ConfigError, UsageError) as exc:  # its client removed, or a file broken now
        problem = str(exc.errors[0] if isinstance(exc, ConfigErrors) else exc)
    if wf is None or problem is not None:
        raise UsageError(
            f"the answer is kept, but {ref} cannot go on now ({problem}); once it loads "
            "again, `avflow resume` finishes the run"
        )
    result = app.engine.execute(wf, run)
    click.echo(f"run {run} {result.status}" + (f": {result.error}" if result.error else ""))
    if result.status == "failed":
        sys.exit(1)
