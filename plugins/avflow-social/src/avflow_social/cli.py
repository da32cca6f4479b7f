"""``avflow social queue``, ``approve`` and ``providers``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import click

import avflow
from avflow_social.calendar import CalendarError, Post, parse, read_calendar
from avflow_social.checks import Channel, Problem, approval_state, post_problems, too_close
from avflow_social.provider import Provider
from avflow_social.store import Store

CHANNEL_KEYS = ("quiet", "daily_limit", "min_gap", "max_chars")


def _profile(cctx: Any, client_id: str) -> tuple[avflow.ClientInfo, dict[str, Any]]:
    """The client and its profile, read from its client.yaml alone (the queue must not load
    every client's workflows); anything unusual is left to the core, which reports it."""
    path = cctx.workflows / client_id / "client.yaml"
    doc: Any = None
    # The core's client-id rule and no linked client folder; anything else goes to the core,
    # which refuses it in one line.
    plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", client_id) is not None
    if plain and not path.parent.is_symlink() and path.is_file():
        doc = avflow.read_yaml(path).data  # a broken file: its file:line:column, exit 2
        try:
            tz = ZoneInfo(str(doc["timezone"]))
            info = avflow.ClientInfo(
                client_id, str(doc.get("name", client_id)), str(doc["timezone"]), tz, path.parent
            )
            return info, doc
        except Exception:
            pass
    return cctx.client(client_id), doc if isinstance(doc, dict) else {}


def _channels(doc: dict[str, Any], providers: dict[str, Provider]) -> dict[str, Channel]:
    """The client's social accounts (secrets are never needed to check posts)."""
    out = {}
    accounts = doc.get("accounts") if isinstance(doc, dict) else None
    for name, raw in (accounts if isinstance(accounts, dict) else {}).items():
        if isinstance(raw, dict) and raw.get("type") in providers:
            settings = {"min_gap": 30, "quiet": [], "daily_limit": None, "max_chars": None}
            settings.update({k: raw[k] for k in CHANNEL_KEYS if k in raw})
            out[str(name)] = Channel(str(name), providers[raw["type"]], SimpleNamespace(**settings))
    return out


def _load(
    client_id: str, calendar: str, providers: dict[str, Provider], *, writable: bool = False
) -> Any:
    cctx = avflow.command_context()
    client, doc = _profile(cctx, client_id)
    if client.folder is None:
        raise click.UsageError(f"client {client_id} has no folder")
    folder = (client.folder / calendar).resolve()
    if Path(calendar).is_absolute() or not folder.is_relative_to(client.folder.resolve()):
        raise click.BadParameter(
            f"{calendar!r} is outside the client's folder", param_hint="--calendar"
        )
    if not folder.is_dir():
        raise click.BadParameter(f"no folder {client.folder / calendar}", param_hint="--calendar")
    posts, errors = read_calendar(folder, client.tz)
    if writable:
        store = Store(cctx.data_dir("social"))
    else:  # reading only: nothing is created for a home that has published nothing yet
        store = Store(cctx.home / "plugins" / "social", create=False)
    return cctx, client, folder, posts, errors, store, _channels(doc, providers)


def _now(at: str | None, tz: Any) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not a date and time (YYYY-MM-DD HH:MM)", param_hint="--at"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=tz)).astimezone(UTC)


def _rows(
    post: Post, client: Any, state: str, published: dict[Any, Any], problems: list[Problem]
) -> dict[str, Any]:
    return {
        "post": post.id,
        "file": post.rel,
        "publish": post.publish_at.astimezone(client.tz).strftime("%Y-%m-%d %H:%M %Z"),
        "timezone": client.timezone,
        "publish_utc": post.publish_at.isoformat(),
        "state": state,
        "channels": {
            c: (
                published[(post.id, c, post.revision)][1]
                if (post.id, c, post.revision) in published
                else None
            )
            for c in post.channels
        },
        "problems": [
            {"severity": p.severity, "channel": p.channel, "message": p.message, "where": p.where}
            for p in problems
        ],
    }


def _print(row: dict[str, Any]) -> None:
    chans = ", ".join(f"{c} ✓" if url else c for c, url in row["channels"].items())
    click.echo(f"{row['publish']}  {row['post']}  [{row['state']}]  {chans}")
    for c, url in row["channels"].items():
        if url:
            click.echo(f"    {c}: {url}")
    for p in row["problems"]:
        on = f" on {p['channel']}" if p["channel"] else ""
        click.echo(f"    {p['severity']}{on}: {p['message']}  ({p['where']})")


def _providers() -> dict[str, Provider]:
    return click.get_current_context().meta["avflow_social.providers"]()


def make_group(get_providers: Callable[[], dict[str, Provider]]) -> click.Group:
    """The ``avflow social`` group; ``get_providers`` asks the plugin manager it was built by."""

    @click.group("social")
    @click.pass_context
    def social(ctx: click.Context) -> None:
        """The content calendar: what goes out where and when, approvals, providers."""
        ctx.meta["avflow_social.providers"] = get_providers

    for command in (queue, approve, list_providers):
        social.add_command(command)
    return social


@click.command("queue")
@click.argument("client")
@click.option(
    "--calendar",
    default="posts",
    show_default=True,
    help="Calendar folder in the client's folder.",
)
@click.option(
    "--soon",
    default=24,
    show_default=True,
    type=click.IntRange(0, 24 * 365),
    help="Hours: an unapproved post due within them is flagged.",
)
@click.option(
    "--at", help="Show the queue as of this local time (YYYY-MM-DD HH:MM) instead of now."
)
@click.option("--all", "show_all", is_flag=True, help="Also posts already published everywhere.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per post.")
def queue(
    client: str, calendar: str, soon: int, at: str | None, show_all: bool, as_json: bool
) -> None:
    """Show CLIENT's posts: when (client's local time), where, approval, problems.

    Exit code 2 when a post file cannot be read (file:line:column on stderr), 1 when a post
    has an error that holds it back, 0 otherwise.
    """
    _, info, folder, posts, errors, store, channels = _load(client, calendar, _providers())
    try:
        approvals, published = store.approvals(client), store.published(client)
    finally:
        store.close()
    now = _now(at, info.tz)
    close = too_close(posts, channels)
    failed = False
    lines: list[str] = []  # JSON lines, written 200 at a time
    resolved: dict[str, tuple[str, int]] = {}  # media files, resolved once per command
    for post in posts:
        problems = post_problems(
            post, channels, folder, approvals, now, timedelta(hours=soon), resolved
        )
        problems += [p for p in close if p.post == post.id]
        row = _rows(post, info, approval_state(post, approvals), published, problems)
        failed = failed or any(p.severity == "error" for p in problems)
        if not show_all and all(row["channels"].values()) and not problems:
            continue
        if as_json:
            lines.append(json.dumps(row, ensure_ascii=False))
            if len(lines) >= 200:
                click.echo("\n".join(lines))
                lines.clear()
        else:
            _print(row)
    if lines:
        click.echo("\n".join(lines))
    if not as_json:
        click.echo(f"{len(posts)} post(s), {len(errors)} unreadable")
    for err in errors:
        click.echo(str(err), err=True)
    if errors:
        raise SystemExit(2)
    if failed:
        raise SystemExit(1)


@click.command("approve")
@click.argument("client")
@click.argument("posts", nargs=-1, required=True)
@click.option(
    "--calendar",
    default="posts",
    show_default=True,
    help="Calendar folder in the client's folder.",
)
def approve(client: str, posts: tuple[str, ...], calendar: str) -> None:
    """Approve CLIENT's POSTS (ids): set status: approved and record what was approved.

    A post edited after its approval is held back until it is approved again.
    """
    _, info, _, found, errors, store, _ = _load(client, calendar, _providers(), writable=True)
    by_id = {p.id: p for p in found}
    try:
        missing = [p for p in posts if p not in by_id]
        if missing:
            hint = "; ".join(str(e) for e in errors) or "ids: " + ", ".join(sorted(by_id))
            raise click.BadParameter(f"no post {', '.join(missing)} ({hint})", param_hint="POSTS")
        for pid in posts:
            post = by_id[pid]
            digest = _set_status(post, "approved", info.tz)
            store.approve(client, pid, digest, datetime.now(UTC), "avflow social approve")
            click.echo(f"approved {pid} ({post.local:%Y-%m-%d %H:%M}, {', '.join(post.channels)})")
    finally:
        store.close()


@click.command("providers")
def list_providers() -> None:
    """List the social providers (account types) the installed plugins offer."""
    for name, p in sorted(_providers().items()):
        limit = f", {p.max_chars} characters" if p.max_chars else ""
        click.echo(f"{name}: {p.description}{limit} [{type(p).__module__}]")


def _set_status(post: Post, status: str, tz: Any) -> str:
    """Rewrite the front matter's status line only (or add one); everything else stays as
    written, line endings included. The file is read back before it is replaced: it must still
    be the same post with that status. Returns the digest of the post as written, the one an
    approval records (a line added changes the file: the post's digest before it would make the
    post 'edited after approval' at once)."""
    path = post.path
    lines = path.read_bytes().decode("utf-8").split("\n")
    start = 1 if lines and lines[0].lstrip("\ufeff").rstrip() == "---" else 0
    end = next((i for i in range(start, len(lines)) if lines[i].rstrip() == "---"), len(lines))
    cr = "\r" if lines and lines[0].endswith("\r") else ""
    for i in range(start, end):
        if lines[i].startswith("status:"):
            lines[i] = f"status: {status}" + ("\r" if lines[i].endswith("\r") else "")
            break
    else:
        lines.insert(start, f"status: {status}{cr}")
    text, why = "\n".join(lines), ""
    try:
        again: Post | None = parse(text, path, post.rel, tz)
    except avflow.ConfigError as exc:
        again = None
        why = exc.message
    if again is None or again.status != status or again.id != post.id:
        raise CalendarError(
            path,
            post.lines.get("status", 1),
            1,
            f"cannot set 'status: {status}' in this front matter "
            f"({why if again is None else 'it would not read so'}): write it in the file",
        )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)
    return again.digest
