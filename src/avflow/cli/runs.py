"""``avflow trigger`` and ``avflow runs``."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from avflow.cli import Obj, pass_obj, say_home, utf8_arg
from avflow.console import show_time
from avflow.errors import UsageError
from avflow.paths import check_client_id, client_folder


def register(cli: click.Group) -> None:
    cli.add_command(trigger)
    cli.add_command(runs)
    cli.add_command(resume)


@click.command()
@click.argument("ref", metavar="CLIENT/WORKFLOW")
@click.option(
    "--dry-run", is_flag=True, help="Go through every step but perform no effect; list them."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's outcome as JSON.")
@pass_obj
def trigger(obj: Obj, ref: str, dry_run: bool, as_json: bool) -> None:
    """Run one workflow now. Exits 0 if the run succeeded, 1 if it failed."""
    app = obj.app
    wf = app.focus(ref.partition("/")[0]).find(ref)
    outcome = app.engine.trigger(wf, dry_run=dry_run)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": outcome.id,
                    "key": outcome.key,
                    "status": outcome.status,
                    "error": outcome.error,
                    "steps": outcome.steps,
                    "outputs": outcome.outputs,
                    "effects": [
                        {
                            "key": e.key,
                            "kind": e.kind,
                            "description": e.description,
                            "status": e.status,
                        }
                        for e in outcome.effects
                    ],
                },
                indent=2,
            )
        )
    else:
        for step, status in outcome.steps.items():
            click.echo(f"  {status:10} {step}")
        label = "would perform" if dry_run else "effects"
        if outcome.effects:
            click.echo(f"{label}:")
            for e in outcome.effects:
                click.echo(
                    f"  - [{e.kind}] {e.description}" + ("" if dry_run else f" ({e.status})")
                )
        elif dry_run:
            click.echo("would perform: nothing")
        click.echo(
            f"run {outcome.id} {outcome.status}" + (f": {outcome.error}" if outcome.error else "")
        )
    if outcome.status == "failed":
        sys.exit(1)


@click.command()
@pass_obj
def resume(obj: Obj) -> None:
    """Finish runs that a crash or a kill left unfinished (``avflow run`` does this on start)."""
    if obj.app.missing_state() is not None:  # nothing ever ran there: nothing made in passing
        obj.reading()
        say_home(obj)
        click.echo("no interrupted runs")
        return
    app = obj.app
    project, errors = app.load()
    for error in errors:  # a broken file elsewhere must not block finishing other clients' runs
        click.echo(f"warning: {error}", err=True)
    app.project = project
    results = app.engine.resume_interrupted()
    for r in results:
        click.echo(
            f"{r.client}/{r.workflow} run {r.id} {r.status}" + (f": {r.error}" if r.error else "")
        )
    if not results:
        click.echo("no interrupted runs")
    if any(r.status == "failed" for r in results):
        sys.exit(1)


@click.command()
@click.argument("ref", required=False, metavar="[CLIENT[/WORKFLOW]]")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True)
@click.option("--utc", is_flag=True, help="Times in UTC, not each client's local time.")
@pass_obj
def runs(obj: Obj, ref: str | None, limit: int, as_json: bool, utc: bool) -> None:
    """Show recent runs, newest first (the home folder read is named first, on stderr).

    Each run's time (when it was scheduled, else when it was started) is shown in its client's
    local time with the zone's abbreviation; ``dry`` marks dry runs; the trigger is
    ``schedule``, ``manual``, ``demo`` (the demo's first pass) or an event's name.
    """
    client, slash, workflow = (ref or "").partition("/")
    if client or slash:
        check_client_id(client)
    rows = obj.reading().state.recent_runs(
        client or None, utf8_arg(workflow, "workflow") or None, limit
    )
    if client and not rows:  # a removed client's runs are still listed; a typo is not "no runs"
        _known_workflow(client_folder(obj.workflows, client), client, workflow)
    say_home(obj)  # once the home opened: a home that cannot be used is the one line printed
    if as_json:
        for row in rows:
            click.echo(json.dumps(dict(row)))
        return
    if not rows:
        click.echo("no runs yet")
        return
    zones = _zones(obj) if not (utc or obj.utc) else {}
    for row in rows:
        click.echo(_run_line(row, zones))


def _known_workflow(cdir: Path, client: str, workflow: str) -> None:
    """A `UsageError` when ``workflow`` (if given) has no file in the client's folder ``cdir``."""
    if not workflow:
        return
    if re.fullmatch(r"[A-Za-z0-9_-]+", workflow) and any(
        (cdir / f"{workflow}{suffix}").is_file() for suffix in (".yaml", ".yml")
    ):
        return
    found = sorted(p.stem for p in cdir.iterdir() if p.suffix in (".yaml", ".yml"))
    found = [name for name in found if name != "client"]
    raise UsageError(
        f"client {client!r} has no workflow {workflow!r} (workflows: {', '.join(found) or 'none'})"
    )


def _zones(obj: Obj) -> dict[str, ZoneInfo]:
    """Each client's zone, from the profiles that load (a broken file elsewhere is no reason
    not to list runs); a client whose profile does not load is shown in UTC."""
    project, _ = obj.app.load()
    return {cid: ZoneInfo(c.profile.timezone) for cid, c in project.clients.items()}


def _run_line(row: Any, zones: dict[str, ZoneInfo]) -> str:
    when = datetime.fromisoformat(
        str(row["scheduled_at"] or row["created_at"]).replace("Z", "+00:00")
    )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    shown = show_time(when, zones.get(row["client"]))
    dry = "dry" if row["dry_run"] else "-"
    err = f"  {row['error']}" if row["error"] else ""
    ref = f"{row['client']}/{row['workflow']}"
    return f"{row['id']}  {shown:24} {ref:32} {row['trigger']:9} {dry:4} {row['status']}{err}"
