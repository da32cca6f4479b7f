"""Helpers of ``avflow audit``: client and trail lookup, time filters, what state.db knows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from avflow.cli import Obj
from avflow.errors import UsageError
from avflow.paths import check_client_id


def _trail_dir(obj: Obj, client: str, must_exist: bool = True) -> Path:
    check_client_id(client)  # the one client-id rule (avflow.paths)
    if must_exist and not (obj.home / "audit" / client).is_dir():
        obj.reading()  # refused below: nothing is created on the way (a mistyped --home)
    directory = obj.app.audit.client_dir(client)
    if must_exist and not directory.is_dir():
        root = obj.app.audit.root
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise UsageError(
            f"no audit trail for client {client!r} in {root} "
            f"(clients with a trail: {', '.join(known) or 'none'})"
        )
    return directory


def known_end(obj: Obj, client: str) -> tuple[tuple[int, str] | None, int]:
    """What state.db knows of ``client``'s trail: its sealed end (seq, hash) and the number of
    runs (each wrote records). Kept away from the trail: deleting the trail does not erase it."""
    check_client_id(client)  # before it reaches a query (a byte that is not UTF-8 cannot)
    if not (obj.app.home / "state.db").exists():
        return None, 0
    state = obj.app.state
    return state.audit_mark(client), state.run_count(client)


def _profile(obj: Obj, client: str) -> Any:
    """The client's profile, or None when its folder cannot be loaded."""
    project, _errors = obj.app.load()
    c = project.clients.get(client)
    return c.profile if c is not None else None


def _tz(obj: Obj, client: str, override: str | None = None) -> ZoneInfo:
    name = override or getattr(_profile(obj, client), "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone {name!r}: unknown timezone (use an IANA name like Europe/Rome)"
        ) from None


def last_complete_month(now: datetime, tz: ZoneInfo) -> str:
    """``YYYY-MM`` of the month before the current one on the client's calendar."""
    local = now.astimezone(tz)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def describer(obj: Obj, client: Any) -> Any:
    """The client report's `Describer`: the plugins' plain words in the client's language, and
    the client's folders (its own, its roots, its accounts' paths) kept out of paths."""
    from avflow.audit.report_text import Describer

    if client is None:
        return Describer(obj.pm.registry.effect_words)
    folders = [client.path, *(Path(r).expanduser() for r in client.profile.roots)]
    for account in client.profile.accounts.values():
        for value in account.values():
            if isinstance(value, str) and "/" in value and "${" not in value and "://" not in value:
                folders.append(client.path / Path(value).expanduser())
    real = [f.resolve() for f in folders]  # as the plugins name them once links are resolved
    return Describer(obj.pm.registry.effect_words, client.profile.language, [*folders, *real])


def _when(option: str, value: str | None, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {value!r}: expected a date (YYYY-MM-DD) or a date and time "
            "(YYYY-MM-DDTHH:MM)"
        ) from None
    if not 1900 <= parsed.year <= 9000:  # year 1 or 9999 leaves the calendar in UTC
        raise UsageError(f"{option} {value!r}: the year must be between 1900 and 9000")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def output_path(obj: Obj, output: Path | None) -> Path | None:
    """``-o``: never a file of the home folder (its trails, ``state.db``, keys), whose contents
    it would replace; its ``reports/`` folder, where reports go by default, is allowed."""
    if output is None:
        return None
    if output == Path():  # -o "" (click has refused "." itself: a folder)
        raise UsageError("-o: give a file name")
    real, home = output.resolve(), obj.home.resolve()
    if real.is_relative_to(home) and not real.is_relative_to(home / "reports"):
        raise UsageError(
            f"-o {output}: that is inside the home folder {obj.home} (trails, state.db, keys); "
            "write it elsewhere"
        )
    if real.is_relative_to(obj.workflows.resolve()):  # a workflow or a profile replaced
        raise UsageError(
            f"-o {output}: that is inside the workflows folder {obj.workflows}; write it elsewhere"
        )
    return output


def _filter(
    obj: Obj,
    client: str,
    since: str | None,
    until: str | None,
    workflow: str | None,
    events: tuple[str, ...],
) -> Any:
    from avflow.audit.export import Filter

    tz = _tz(obj, client) if since or until else ZoneInfo("UTC")
    return Filter(
        _when("--since", since, tz),
        _when("--until", until, tz),
        workflow,
        tuple(e for spec in events for e in spec.split(",") if e),
    )


def _filter_options(f: Any) -> Any:
    f = click.option(
        "--event",
        "events",
        multiple=True,
        help="Only these events (repeatable; globs like 'effect.*').",
    )(f)
    f = click.option("--workflow", help="Only this workflow's records.")(f)
    f = click.option("--until", help="Only records before this date/time (client's local time).")(f)
    f = click.option("--since", help="Only records from this date/time on (client's local time).")(
        f
    )
    return f
