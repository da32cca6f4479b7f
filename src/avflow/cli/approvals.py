"""``avflow approvals [CLIENT]``, ``avflow approve ID`` and ``avflow reject ID --reason TEXT``.

See docs/approvals.md. A decision is recorded at once; the run is then taken up by the service
(``avflow run`` notices within about two seconds) or, when no service runs for this home
folder, by the command itself, which prints how the run ended.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import click

from avflow import approvals as api
from avflow.cli import Obj, pass_obj, say_home
from avflow.errors import ConfigError, ConfigErrors, UsageError
from avflow.paths import check_client_id, client_folder

MAX_REASON = 1000


def register(cli: click.Group) -> None:
    cli.add_command(approvals)
    cli.add_command(approve)
    cli.add_command(reject)


def _zones(obj: Obj, clients: set[str]) -> dict[str, tzinfo]:
    """Each client's timezone from its profile (UTC for one that cannot be read now)."""
    zones: dict[str, tzinfo] = {}
    for client in clients:
        try:
            loaded, _ = obj.app.loader.load_client(obj.workflows / client)
            zones[client] = ZoneInfo(loaded.profile.timezone) if loaded else ZoneInfo("UTC")
        except Exception:  # a broken profile must not hide what waits for a decision
            zones[client] = ZoneInfo("UTC")
    return zones


def _shown(text: str) -> str:
    """One line, no control characters: a summary may come from a mail subject (escape codes)."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _local(when: datetime | None, tz: tzinfo) -> str:
    if when is None:
        return "-"
    local = when.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


@click.command()
@click.argument("client", required=False)
@click.option("-n", "--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0, 1_000_000_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per approval.")
@pass_obj
def approvals(obj: Obj, client: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List the approvals waiting for a decision, oldest first (times in each client's zone)."""
    if client is not None:
        check_client_id(client)
    page = api.pending(obj.reading(), client, limit=limit, offset=offset)
    total = api.count_pending(obj.app, client)
    if client is not None and not total:  # a removed client's approvals are still listed
        client_folder(obj.workflows, client)  # a typo, a linked folder: one line, exit 2
    say_home(obj)
    if as_json:
        for a in page:
            click.echo(json.dumps(_as_json(a)))
        return
    if not page:
        click.echo("no approvals waiting" + (f" for {client}" if client else ""))
        return
    zones = _zones(obj, {a.client for a in page})
    rows = [_row(obj, a, zones[a.client]) for a in page]
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER) - 1)]
    click.echo(_line(HEADER, widths))
    for a, row in zip(page, rows, strict=True):
        click.echo(_line(row, widths))
        click.echo(f"    {_shown(a.summary)}")
        for item in a.preview:
            click.echo(f"      - {_shown(item)}")
        if not a.preview:
            click.echo("      (the following steps perform no effect)")
    shown = offset + len(page)
    if shown < total:
        click.echo(f"{total - shown} more: --offset {shown}")


HEADER = ("ID", "CLIENT/WORKFLOW", "STEP", "ASKED", "DEADLINE")


def _row(obj: Obj, a: api.Approval, tz: tzinfo) -> tuple[str, ...]:
    then = f", then {a.default}" if a.default else ""
    if a.deadline is not None and a.deadline <= obj.clock.now():
        # no default: it waits on; a default: the service takes it (within a second, or when
        # it starts) unless someone decides first
        then = f"{then} (passed: at the next check)" if a.default else " (overdue)"
    where = f"{a.client}/{a.workflow}"
    return (a.id, where, a.step, _local(a.created_at, tz), _local(a.deadline, tz) + then)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def _as_json(a: api.Approval) -> dict[str, object]:
    return {
        "id": a.id,
        "client": a.client,
        "workflow": a.workflow,
        "run": a.run_id,
        "step": a.step,
        "summary": a.summary,
        "preview": a.preview,
        "created_at": a.created_at.isoformat(),
        "deadline": a.deadline.isoformat() if a.deadline else None,
        "default": a.default,
        "status": a.status,
    }


def _decide(obj: Obj, approval_id: str, approve: bool, reason: str | None, resume: bool) -> None:
    if reason is not None:
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON or not reason.isprintable():
            raise UsageError(f"--reason: one line of text, at most {MAX_REASON} characters")
    done = _decided(obj, approval_id, approve, reason)
    click.echo(
        f"approval {done.id} {done.status} ({done.client}/{done.workflow}, run {done.run_id})"
    )
    if not resume:
        return
    from avflow.scheduler.service import service_lock

    if service_lock(obj.home).is_held_elsewhere():
        click.echo("the running service takes the run up")
        return
    wf = _waiting_workflow(obj, done)
    outcome = obj.app.engine.resume_waiting(wf, done.id)
    if outcome is None:
        if _claimed(obj, done.id):
            click.echo("the run was taken up by another process")
        else:
            click.echo(
                f"{done.client}/{done.workflow} is busy (another run of it is going on): the "
                "decision is kept; once that run has ended, `avflow resume` takes this run up "
                "(so does `avflow run`, the service, when started)"
            )
        return
    error = f": {outcome.error}" if outcome.error else ""
    click.echo(f"run {outcome.id} {outcome.status}{error}")
    if outcome.status == "failed":
        sys.exit(1)


def _decided(obj: Obj, approval_id: str, approve: bool, reason: str | None) -> api.Approval:
    """The decision, recorded; an unknown id names the home it was looked for in (a mistyped
    ``--home`` is neither created nor given a state.db)."""
    home = f"home: {os.path.abspath(obj.home)} ({obj.home_source}"
    missing = obj.app.missing_state()
    if missing is not None:
        shown = approval_id[:40] if api.ID_SHAPE.fullmatch(approval_id) else "?"
        raise UsageError(f"no approval {shown!r} ({home}; {missing}))")
    try:
        return api.decide(
            obj.app, approval_id, approve=approve, by=getpass.getuser(), reason=reason
        )
    except api.UnknownApproval as exc:
        raise UsageError(f"{str(exc).removesuffix(')')}; {home}))") from None
    except api.AlreadyDecided as exc:  # its time on the client's clock, as everywhere
        known = api.get(obj.app, approval_id)
        if known.decided_at is None:
            raise
        when = known.decided_at.isoformat(timespec="seconds")
        local = _local(known.decided_at, _zones(obj, {known.client})[known.client])
        raise UsageError(str(exc).replace(f" at {when}", f" at {local}")) from None


def _waiting_workflow(obj: Obj, done: api.Approval) -> Any:
    """The workflow of a decided approval, loaded to take its run up; a `UsageError` saying the
    decision is kept when it cannot be (its file or client removed, or broken now)."""
    ref = f"{done.client}/{done.workflow}"
    try:
        wf = obj.app.focus(done.client).clients[done.client].workflows.get(done.workflow)
        problem = None if wf is not None else "its workflow file is gone"
    except (ConfigError, UsageError) as exc:
        problem = str(exc.errors[0] if isinstance(exc, ConfigErrors) else exc)
    if problem is not None:
        raise UsageError(
            f"the decision is kept, but {ref} cannot go on now ({problem}); once it loads "
            "again, `avflow resume` takes the run up"
        )
    return wf


def _claimed(obj: Obj, approval_id: str) -> bool:
    row = api.store(obj.app).by_id(approval_id)
    return row is not None and bool(row["resumed"])


@click.command()
@click.argument("approval_id", metavar="ID")
@click.option("--reason", default=None, help="Why (goes into the client's audit trail).")
@click.option("--no-resume", is_flag=True, help="Only record the decision.")
@pass_obj
def approve(obj: Obj, approval_id: str, reason: str | None, no_resume: bool) -> None:
    """Approve a waiting step: its run goes on (exit 2: no such approval, or already decided).

    With no service running for this home folder, the run goes on here (exit 1 if it fails).
    """
    _decide(obj, approval_id, True, reason, not no_resume)


@click.command()
@click.argument("approval_id", metavar="ID")
@click.option("--reason", required=True, help="Why (goes into the client's audit trail).")
@click.option("--no-resume", is_flag=True, help="Only record the decision.")
@pass_obj
def reject(obj: Obj, approval_id: str, reason: str, no_resume: bool) -> None:
    """Reject a waiting step: its run stops, recorded as rejected (exit 2: no such approval,
    or already decided)."""
    _decide(obj, approval_id, False, reason, not no_resume)
