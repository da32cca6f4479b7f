"""``avflow validate``, ``avflow list``, ``avflow schema``."""

from __future__ import annotations

import json

import click

from avflow.cli import Obj, pass_obj
from avflow.errors import ConfigErrors


def register(cli: click.Group) -> None:
    cli.add_command(validate)
    cli.add_command(list_workflows)
    cli.add_command(schema)


@click.command()
@pass_obj
def validate(obj: Obj) -> None:
    """Check every client profile and workflow; print each error as file:line:column."""
    project, errors = obj.app.load()
    if errors:
        raise ConfigErrors(errors)  # type: ignore[arg-type]
    n = len(project.workflows())
    click.echo(f"ok: {len(project.clients)} clients, {n} workflows")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per workflow.")
@pass_obj
def list_workflows(obj: Obj, as_json: bool) -> None:
    """List clients and their workflows."""
    project = obj.app.project
    for wf in project.workflows():
        client = project.clients[wf.client]
        crons = [s.cron for s in wf.model.on.schedule]
        events = [e.uses for e in wf.model.on.events]
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "client": wf.client,
                        "workflow": wf.id,
                        "name": wf.name,
                        "timezone": client.profile.timezone,
                        "schedule": crons,
                        "events": events,
                        "when": wf.model.on.when,
                        "enabled": wf.model.enabled,
                    }
                )
            )
        else:
            trig = ", ".join(crons + events) or "manual"
            off = "" if wf.model.enabled else " [disabled]"
            click.echo(
                f"{wf.ref:32} {wf.name:30} {trig} ({client.profile.timezone}, {wf.model.on.when}){off}"
            )


@click.command()
@click.option(
    "--kind", type=click.Choice(["workflow", "client"]), default="workflow", show_default=True
)
@pass_obj
def schema(obj: Obj, kind: str) -> None:
    """Print the JSON Schema of workflow files (or client profiles), for editors."""
    from avflow.schema import client_schema, workflow_schema

    registry = obj.pm.registry
    doc = workflow_schema(registry) if kind == "workflow" else client_schema(registry)
    click.echo(json.dumps(doc, indent=2, sort_keys=True))
