"""``avflow run``, ``avflow next``, ``avflow status``: the scheduler's commands."""

from __future__ import annotations

import heapq
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from avflow.cli import Obj, pass_obj, say_home
from avflow.errors import UsageError
from avflow.loader import LoadedWorkflow, Project
from avflow.paths import check_client_id


def register(cli: click.Group) -> None:
    cli.add_command(run)
    cli.add_command(next_firings)
    cli.add_command(status)


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Run what is due now (and missed firings, per catch_up), then exit.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="Service settings. [default: $AVFLOW_HOME/service.yaml if it exists]",
)
@click.option(
    "--no-watch", is_flag=True, help="Do not reload when workflow files change (SIGHUP still does)."
)
@click.option(
    "--max-runs", type=click.IntRange(min=1), default=None, help="Runs at once, all clients."
)
@click.option(
    "--max-client-runs", type=click.IntRange(min=1), default=None, help="Runs at once per client."
)
@pass_obj
def run(
    obj: Obj,
    once: bool,
    config: Path | None,
    no_watch: bool,
    max_runs: int | None,
    max_client_runs: int | None,
) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C (SIGHUP reloads).

    Exits 0 after a clean stop; 2 on a configuration error or if a service already runs for this
    home folder; with --once, 1 if a run failed.
    """
    from avflow.scheduler.service import Service
    from avflow.scheduler.settings import load_settings

    settings = load_settings(
        config or obj.home / "service.yaml",
        required=config is not None,
        notifiers=obj.pm.registry.notifiers,
    )
    if max_runs is not None:
        settings.concurrency.max_runs = max_runs
    if max_client_runs is not None:
        settings.concurrency.max_runs_per_client = max_client_runs
    service = Service(
        obj.workflows,
        obj.home,
        obj.pm,
        clock=obj.clock,
        settings=settings,
        watch=not no_watch,
        once=once,
    )
    from avflow.dashboard.server import serving

    with serving(service, settings.dashboard, once=once):  # docs/dashboard.md
        code = service.run()
    if code:
        sys.exit(code)


def _parse_from(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--from {value!r}: not an ISO time like 2026-03-29 or 2026-03-29T02:00+02:00"
        ) from None
    if not 1900 <= start.year <= 9000:  # cron arithmetic near year 1 or 9999 leaves the calendar
        raise UsageError(f"--from {value!r}: the year must be between 1900 and 9000")
    return start


def _select(project: Project, ref: str | None) -> list[LoadedWorkflow]:
    if not ref:
        return project.workflows()
    check_client_id(ref.partition("/")[0])
    if "/" in ref:
        return [project.find(ref)]
    if ref not in project.clients:
        raise UsageError(
            f"unknown client {ref!r} (clients: {', '.join(sorted(project.clients)) or 'none'})"
        )
    return list(project.clients[ref].workflows.values())


def upcoming(
    project: Project, wf: LoadedWorkflow, start: datetime, limit: int = 20_000
) -> Iterator[datetime]:
    """Firings of ``wf`` at or after ``start`` that gating lets run (at most ``limit`` examined)."""
    from avflow.scheduler.planner import job_for
    from avflow.scheduler.upcoming import allowed_firings

    job = job_for(project.clients[wf.client], wf)
    if job is not None:
        yield from allowed_firings(job, start, limit)


def _tagged(
    project: Project, wf: LoadedWorkflow, tz: ZoneInfo, begin: datetime
) -> Iterator[tuple[datetime, str, LoadedWorkflow, ZoneInfo]]:
    for t in upcoming(project, wf, begin):
        yield t, wf.ref, wf, tz


@click.command("next")
@click.argument("ref", required=False, metavar="[CLIENT[/WORKFLOW]]")
@click.option("-n", "--count", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--from",
    "from_",
    metavar="ISO-TIME",
    help="Start here instead of now; a time without offset is read in each client's timezone.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per firing.")
@click.option("--utc", is_flag=True, help="Times in UTC, not each client's local time.")
@pass_obj
def next_firings(
    obj: Obj, ref: str | None, count: int, from_: str | None, as_json: bool, utc: bool
) -> None:
    """Show the next firings (gating applied), in each client's local time."""
    project = obj.app.project
    start = _parse_from(from_)
    now = obj.clock.now()
    streams = []
    for wf in _select(project, ref):
        tz = ZoneInfo(project.clients[wf.client].profile.timezone)
        begin = (
            now if start is None else (start.replace(tzinfo=tz) if start.tzinfo is None else start)
        )
        streams.append(_tagged(project, wf, tz, begin))
    shown = 0
    shown_tz = UTC if (utc or obj.utc) else None
    for t, _, wf, tz in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
        local = t.astimezone(shown_tz or tz)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "client": wf.client,
                        "workflow": wf.id,
                        "time": local.isoformat(),
                        "utc": t.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                        "timezone": tz.key,
                    }
                )
            )
        else:
            click.echo(
                f"{local:%a %Y-%m-%d %H:%M} {local.tzname():>5} ({local:%z})  {wf.ref:32} {wf.name}"
            )
        shown += 1
        if shown >= count:
            break
    if not shown and not as_json:
        click.echo("no upcoming firings")


@click.command()
@click.option(
    "--json", "as_json", is_flag=True, help="The service and each workflow as JSON objects."
)
@click.option("--utc", is_flag=True, help="Times in UTC, not each client's local time.")
@pass_obj
def status(obj: Obj, as_json: bool, utc: bool) -> None:
    """Show the service's heartbeat and each workflow's last and next run; flag failing or silent ones.

    The next run is the first firing gating lets run, exactly as ``avflow next`` shows it.
    """
    from avflow.scheduler.status import collect

    report = collect(obj.reading(), obj.home)
    if as_json:  # the home inside the object: a line on stderr would not be JSON for `2>&1`
        home = {"home": str(os.path.abspath(obj.home)), "home_from": obj.home_source}
        report = {**home, "home_missing": obj.app.missing_state(), **report}
        click.echo(json.dumps(report, indent=2))
        return
    say_home(obj)
    svc = report["service"]
    click.echo(f"service: {svc['summary']}")
    if not any(w["last_run"] for w in report["workflows"]):
        click.echo("no runs yet")
    for w in report["workflows"]:
        click.echo(_status_line(w, utc or obj.utc))
    problems = [w for w in report["workflows"] if w["flags"]]
    if problems:
        click.echo(f"{len(problems)} workflow(s) need attention")


def _status_line(w: dict[str, Any], utc: bool) -> str:
    """One workflow of ``avflow status``: times in its client's zone, with the abbreviation."""
    from avflow.console import show_time

    tz = ZoneInfo(w["timezone"])

    def shown(value: str | None) -> str:
        return show_time(datetime.fromisoformat(value), tz, utc) if value else "-"

    last = f"{w['last_status']} {shown(w['last_run'])}" if w["last_run"] else "never run"
    nxt = shown(w["next_local"])
    if w.get("next_skips"):
        nxt += f" ({w['next_skips']} until then)"
    flags = " ".join(f.upper() for f in w["flags"])
    ref = f"{w['client']}/{w['workflow']}"
    return f"  {ref:32} last: {last:34} next: {nxt} {flags}".rstrip()
