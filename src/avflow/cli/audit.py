"""``avflow audit``: show, verify, export, report, prune, pubkey (docs/audit.md)."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from avflow.cli import Obj, pass_obj
from avflow.cli.audit_support import (
    _filter,
    _filter_options,
    _profile,
    _trail_dir,
    _tz,
    describer,
    known_end,
    last_complete_month,
    output_path,
)
from avflow.errors import UsageError
from avflow.fsutil import private_dir, replacing


def register(cli: click.Group) -> None:
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """The clients' tamper-evident audit trails: show, verify, export, report, prune."""


# -- show ---------------------------------------------------------------------------------------------
@audit.command()
@click.argument("client")
@_filter_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the records as JSON lines, exactly as stored."
)
@click.option(
    "-n", "--last", type=click.IntRange(1, 1_000_000), help="Only the last N matching records."
)
@pass_obj
def show(
    obj: Obj,
    client: str,
    since: str | None,
    until: str | None,
    workflow: str | None,
    events: tuple[str, ...],
    as_json: bool,
    last: int | None,
) -> None:
    """Show a client's audit records, oldest first, times in the client's timezone."""
    obj.reading()  # it only reads: a mistyped --home creates nothing
    from collections import deque

    from avflow.audit.export import iter_records, record_time

    directory = _trail_dir(obj, client)
    flt = _filter(obj, client, since, until, workflow, events)
    matching = (
        deque(iter_records(directory, flt), maxlen=last) if last else iter_records(directory, flt)
    )
    if as_json:
        out = sys.stdout.buffer
        for line, _ in matching:
            out.write(line)
        out.flush()
        return
    from rich.console import Console
    from rich.table import Table

    tz = UTC if obj.utc else _tz(obj, client)  # avflow --utc audit show: UTC
    table = Table(title=f"audit trail of {client} (times in {tz})", title_justify="left")
    for col in ("seq", "time", "workflow", "step", "event", "description"):
        table.add_column(col, justify="right" if col == "seq" else "left", overflow="fold")
    n = 0
    for _, rec in matching:
        n += 1
        table.add_row(
            str(rec["seq"]),
            record_time(rec).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
            rec.get("workflow") or "",
            rec.get("step") or "",
            rec.get("event") or "",
            rec.get("description") or "",
        )
    # Off a terminal (a pipe, a file) rows are not squeezed into 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(table) if n else click.echo("no records match")


# -- verify -------------------------------------------------------------------------------------------
def _verify_with_bar(directory: Path, client: str, public: Any, extra: Any, mark: Any) -> Any:
    """`verify_trail` under a progress bar over the trail's bytes (drawn only on a terminal)."""
    from avflow.audit.format import month_files
    from avflow.audit.verify import verify_trail
    from avflow.console import progress

    total = sum(p.stat().st_size for p in month_files(directory)) if directory.is_dir() else 0
    with progress(f"verifying {client}'s trail", total=total or None) as bar:
        return verify_trail(
            directory, client, public, extra, known=mark, progress=lambda n: bar.set(n)
        )


def _check_month(month: str | None) -> None:
    """``--month``: YYYY-MM, a year from 1900 to 9000."""
    from avflow.audit.retention import MONTH

    if month is not None and not MONTH.match(month):
        raise UsageError(f"--month {month!r}: expected a month as YYYY-MM")
    if month is not None and not 1900 <= int(month[:4]) <= 9000:
        raise UsageError(f"--month {month!r}: the year must be between 1900 and 9000")


@audit.command()
@click.argument("client")
@click.option(
    "--pubkey",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check signatures with this public key (the one the client holds) instead of the home folder's.",
)
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A checkpoints.jsonl kept from an earlier bundle: the trail must still contain what it signs.",
)
@pass_obj
def verify(obj: Obj, client: str, pubkey: Path | None, anchors: tuple[Path, ...]) -> None:
    """Check a client's trail: hashes, order, checkpoints and seal. Exits 1 naming the first bad record."""
    obj.reading()  # it only reads: a mistyped --home creates nothing
    from avflow.audit.checkpoints import CheckpointError, read_checkpoints
    from avflow.audit.keys import load_public
    from avflow.audit.verify import Problem

    mark, runs = known_end(obj, client)
    directory = _trail_dir(obj, client, must_exist=mark is None and runs == 0)
    trail = obj.app.audit
    public = load_public(pubkey) if pubkey else (trail.key.public() if trail.key.exists() else None)
    extra = []
    for path in anchors:
        if not path.exists():
            raise UsageError(f"--anchor {path}: no such file")
        try:
            extra += read_checkpoints(path)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from None
    result = _verify_with_bar(directory, client, public, extra, mark)
    if runs and not result.records and not result.problems:
        result.problems.append(
            Problem(f"state.db has {runs} run(s) of client {client!r} but its trail has no records")
        )
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    if result.ok:
        source = f"the key in {pubkey}" if pubkey else "the home folder's key"
        click.echo(
            f"OK: client {client}: {result.records} records (seq {result.first_seq}..{result.last_seq}) "
            f"in {len(result.files)} file(s); {result.checkpoints} checkpoint(s) and the seal at seq "
            f"{result.sealed_at} verified with {source} {result.key}"
        )
        return
    first = result.problems[0]
    click.echo(f"FAILED: client {client}: first bad record: {first}")
    for p in result.problems[1:10]:
        click.echo(f"  also: {p}")
    if len(result.problems) > 10:
        click.echo(f"  and {len(result.problems) - 10} more problems")
    sys.exit(1)


# -- export -------------------------------------------------------------------------------------------
@audit.command()
@click.argument("client")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "bundle"]),
    default="jsonl",
    show_default=True,
    help="jsonl: records exactly as stored; csv: one row a record; bundle: a zip the client can verify.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here. [default: standard output; CLIENT-audit-bundle.zip for a bundle]",
)
@_filter_options
@pass_obj
def export(
    obj: Obj,
    client: str,
    fmt: str,
    output: Path | None,
    since: str | None,
    until: str | None,
    workflow: str | None,
    events: tuple[str, ...],
) -> None:
    """Export a client's records (JSON lines or CSV), or the whole trail as a verification bundle."""
    obj.reading()  # it only reads: a mistyped --home creates nothing
    from avflow.audit import export as ex

    directory = _trail_dir(obj, client)
    output = output_path(obj, output)
    if fmt == "bundle":
        if since or until or workflow or events:
            raise UsageError(
                "a bundle holds the whole trail: --since, --until, --workflow and --event do not apply"
            )
        trail = obj.app.audit
        dest = output or Path(f"{client}-audit-bundle.zip")
        manifest = ex.bundle(directory, client, trail.key.public(), dest, trail.clock())
        click.echo(
            f"wrote {dest}: records seq {manifest['first_seq']}..{manifest['last_seq']}, key {manifest['key']}",
            err=output is None,
        )
        return
    flt = _filter(obj, client, since, until, workflow, events)
    if fmt == "jsonl":
        if output is None:
            sys.stdout.flush()
            ex.write_jsonl(directory, flt, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with replacing(output, binary=True) as fb:
                n = ex.write_jsonl(directory, flt, fb)
            click.echo(f"wrote {n} records to {output}", err=True)
    else:
        if output is None:
            ex.write_csv(directory, flt, sys.stdout)
            sys.stdout.flush()
        else:
            with replacing(output) as ft:
                n = ex.write_csv(directory, flt, ft)
            click.echo(f"wrote {n} records to {output}", err=True)


# -- report -------------------------------------------------------------------------------------------
@audit.command()
@click.argument("client")
@click.option(
    "--month",
    help="The month, YYYY-MM, in the client's local time. [default: the last complete month]",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file. [default: HOME/reports/CLIENT/CLIENT-activity-YYYY-MM.html]",
)
@click.option(
    "--bundle/--no-bundle",
    default=True,
    show_default=True,
    help="Also write the verification bundle (CLIENT-audit-YYYY-MM.zip beside the report).",
)
@click.option(
    "--timezone",
    help="Override the client's timezone (e.g. for a client no longer in the workflows).",
)
@pass_obj
def report(
    obj: Obj,
    client: str,
    month: str | None,
    output: Path | None,
    bundle: bool,
    timezone: str | None,
) -> None:
    """Write the client's monthly activity report: a self-contained HTML file (and a bundle),
    in the client's language, into the home folder's reports/CLIENT/ unless -o says where."""
    from avflow.audit import export as ex
    from avflow.audit import report as rp
    from avflow.audit.verify import verify_trail

    _check_month(month)
    directory = _trail_dir(obj, client)
    output = output_path(obj, output)
    if bundle and output is not None and output.exists() and not output.is_file():
        raise UsageError(
            f"-o {output} is not a file: the bundle goes beside the report; add --no-bundle"
        )
    project, _ = obj.app.load()
    c = project.clients.get(client)
    if c is None and timezone is None:
        raise UsageError(
            f"client {client!r} is not in {obj.workflows}: pass --timezone to report on its trail anyway"
        )
    tz = _tz(obj, client, timezone)
    trail = obj.app.audit
    month = month or last_complete_month(trail.clock(), tz)
    public = trail.key.public() if trail.key.exists() else None
    check = verify_trail(directory, client, public)
    data = rp.build(
        directory,
        client,
        c.profile.name if c else client,
        tz.key,
        month,
        workflow_names={wid: wf.name for wid, wf in c.workflows.items()} if c else {},
        verification=check,
        now=trail.clock(),
        describer=describer(obj, c),
    )
    dest = output or obj.home / "reports" / client / f"{client}-activity-{month}.html"
    if output is None:
        private_dir(dest.parent)  # the home folder's reports/CLIENT/, 0700 like the rest of it
    with replacing(dest) as f:
        f.write(rp.render_html(data))
    click.echo(f"wrote {dest}: {data.totals.runs} runs, {data.totals.effects_total} effects")
    if bundle and public is not None:
        zdest = dest.with_name(f"{client}-audit-{month}.zip")
        ex.bundle(directory, client, public, zdest, trail.clock())
        click.echo(f"wrote {zdest}")
    if not check.ok:
        click.echo(f"warning: the trail does not verify: {check.problems[0]}", err=True)
        sys.exit(1)


# -- prune --------------------------------------------------------------------------------------------
@audit.command()
@click.argument("client")
@click.option("--before", required=True, help="Remove the months before this one (YYYY-MM).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_obj
def prune(obj: Obj, client: str, before: str, dry_run: bool, yes: bool) -> None:
    """Remove whole months older than the client's retention (audit.retention_years), and record it."""
    from avflow.audit import retention

    _trail_dir(obj, client)
    profile = _profile(obj, client)
    if profile is None:
        raise UsageError(
            f"cannot load client {client!r} from {obj.workflows}: pruning needs its "
            "audit.retention_years (run `avflow validate`)"
        )
    years = profile.audit.retention_years
    trail = obj.app.audit
    trail.configure(client, profile.audit)
    now = trail.clock().astimezone(UTC)
    plan = retention.plan(trail, client, before, years, now)
    what = retention.describe(plan)
    if dry_run:
        click.echo(f"would prune {what}")
        return
    if not yes:
        click.confirm(f"Prune {what} from the audit trail of {client}?", abort=True)
    done = retention.prune(trail, client, before, years, now)
    click.echo(
        f"pruned {retention.describe(done)}; a signed anchor and an audit.pruned record were written"
    )


# -- pubkey -------------------------------------------------------------------------------------------
@audit.command()
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the key here."
)
@pass_obj
def pubkey(obj: Obj, output: Path | None) -> None:
    """Print the public key that signs checkpoints (give it to clients, out of band)."""
    from avflow.audit.keys import fingerprint, public_pem

    key = obj.app.audit.key
    public = key.private().public_key()  # made now if nothing has been recorded yet
    pem = public_pem(public)
    output = output_path(obj, output)
    if output:
        with replacing(output, binary=True) as f:
            f.write(pem)
        click.echo(f"wrote {output} (fingerprint {fingerprint(public)})")
    else:
        click.echo(pem.decode(), nl=False)
        click.echo(f"fingerprint {fingerprint(public)}", err=True)
