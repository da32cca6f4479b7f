"""``avflow archive search`` and ``avflow archive list``: the index from the command line."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

import click

import avflow
from avflow_archive.index import ArchiveIndex, Document


def _index(client_id: str) -> ArchiveIndex | None:
    cctx = avflow.command_context()
    cctx.client(client_id)  # an unknown client is a one-line error, exit code 2
    path = cctx.home / "plugins" / "archive" / "index.db"
    if not path.exists():
        return None
    return ArchiveIndex(cctx.data_dir("archive") / "index.db")


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--since"
        ) from None


def _line(doc: Document) -> str:
    when = (doc.date or doc.filed_at)[:10]
    extra = f"  [{doc.status}: {doc.reason}]" if doc.status != "filed" else ""
    keep = f"  (kept until {doc.retain_until})" if doc.retain_until else ""
    return f"{when}  {doc.account}:{doc.path}  {doc.type}  {doc.size} B{keep}{extra}"


@click.group("archive")
def archive() -> None:
    """Search and list the documents filed into each client's archive."""


@archive.command("search")
@click.argument("client")
@click.argument("query")
@click.option("--account", help="Only this archive account.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
def search(client: str, query: str, account: str | None, limit: int, as_json: bool) -> None:
    """Full-text search of CLIENT's filed documents (names, senders, subjects, PDF text).

    Every word of QUERY must appear; end a word with * to match a prefix (fattur*).
    """
    index = _index(client)
    if index is None:
        click.echo(f"no documents filed for {client} yet")
        return
    try:
        docs = index.search(client, query, account=account, limit=limit)
    finally:
        index.close()
    for doc in docs:
        if as_json:
            click.echo(json.dumps(asdict(doc)))
        else:
            click.echo(_line(doc))
            if doc.snippet:
                click.echo("    " + " ".join(doc.snippet.split()))
    if not docs and not as_json:
        click.echo("no documents match")


@archive.command("list")
@click.argument("client")
@click.option("--since", help="Only documents filed on or after this day (YYYY-MM-DD).")
@click.option("--account", help="Only this archive account.")
@click.option(
    "--quarantined", is_flag=True, help="Only documents put in quarantine, with the reason."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
def list_documents(
    client: str, since: str | None, account: str | None, quarantined: bool, as_json: bool
) -> None:
    """List CLIENT's filed documents, oldest first."""
    since_day = _since(since)
    index = _index(client)
    if index is None:
        click.echo(f"no documents filed for {client} yet")
        return
    try:
        docs = index.documents(
            client, since=since_day, account=account, status="quarantined" if quarantined else None
        )
    finally:
        index.close()
    for doc in docs:
        click.echo(json.dumps(asdict(doc)) if as_json else _line(doc))
    if not as_json:
        click.echo(f"{len(docs)} document(s)")
