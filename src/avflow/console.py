"""Output for people: one concise line per log event, and progress bars for long work.

The rule (docs/operations.md, "Console output"): log lines go to stderr as human lines unless
JSON is asked for, with ``--log-format json`` (``--log-json``) or ``AVFLOW_LOG_FORMAT=json`` in
the environment (what a systemd unit or a log shipper sets); colours and progress bars only when
stderr is a terminal (and ``NO_COLOR`` is not set). A human line reads::

    23:31:05 CET  acme/inbox        ✓ run succeeded

with the time in the client's zone (the service tells this module each client's zone), UTC with
``--utc``, errors in red and warnings in yellow. An event carrying ``said`` (a plain sentence the
service wrote for people) is shown as that sentence; JSON lines keep every field.

`progress` is the core's progress API for steps and commands (exported as ``avflow.progress``)::

    with avflow.progress("first triage", total=len(uids)) as bar:
        for uid in uids:
            ...
            bar.advance()

or, for a loop, ``for uid in avflow.track(uids, "first triage"): ...``. On a terminal it draws a bar on stderr (several at once share one display); anywhere else it
does nothing, so a step may call it unconditionally.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sized
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")
_zones: dict[str, ZoneInfo] = {}
_settings = {"utc": False, "bars": False, "color": False}
_lock = threading.Lock()

QUIET_KEYS = {
    "timestamp",
    "level",
    "event",
    "client",
    "workflow",
    "run",
    "step",
    "said",
    "logger",
    "error",
}


def set_zones(zones: Mapping[str, str]) -> None:
    """Each client's timezone name: log lines about a client show its local time."""
    for client, name in zones.items():
        _zones[client] = ZoneInfo(name)


def setup(*, utc: bool = False, color: bool | None = None, bars: bool | None = None) -> None:
    """Decide colours, bars and UTC once per process (`avflow.app.configure_logging` calls it)."""
    tty = _isatty()
    _settings["utc"] = utc
    _settings["color"] = (tty and not os.environ.get("NO_COLOR")) if color is None else color
    _settings["bars"] = tty if bars is None else bars


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def wants_json(option: str | None) -> bool:
    """``--log-format`` if given, else ``$AVFLOW_LOG_FORMAT``; JSON only when asked for."""
    choice = option or os.environ.get("AVFLOW_LOG_FORMAT", "") or "human"
    return choice.lower() == "json"


# -- human log lines ------------------------------------------------------------------------------
def local_time(stamp: str | None, client: str | None) -> str:
    """``23:31:05 CET`` in the client's zone (else this machine's), or UTC with ``--utc``."""
    try:
        t = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        t = datetime.now(UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    zone: tzinfo | None = UTC if _settings["utc"] else _zones.get(client or "")
    local = t.astimezone(zone) if zone is not None else t.astimezone()
    return f"{local:%H:%M:%S} {local.tzname()}"


def show_time(t: datetime, tz: tzinfo | None, utc: bool = False) -> str:
    """``Mon 2026-12-07 09:00 CET``: ``t`` in ``tz`` (UTC with ``utc`` or without a zone)."""
    local = t.astimezone(UTC if utc or tz is None else tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _rest(ev: Mapping[str, Any]) -> str:
    """The other fields as ``key=value``, less those the event's text already shows."""
    text = str(ev.get("event", ""))
    return " ".join(
        f"{k}={v}"
        for k, v in ev.items()
        if k not in QUIET_KEYS and v is not None and str(v) not in text
    )


def message(ev: Mapping[str, Any]) -> tuple[str, str]:
    """The text of one event for people, and its style (``""``, red, yellow, dim, green)."""
    name, level = str(ev.get("event", "")), ev.get("level")
    style = {"error": "red", "critical": "red", "warning": "yellow"}.get(str(level), "")
    error = f": {ev['error']}" if ev.get("error") else ""
    step = ev.get("step")
    if "said" in ev:
        return str(ev["said"]), style
    if name == "run started":
        extra = ", dry run" if ev.get("dry_run") else ""
        return f"▶ run started ({ev.get('trigger', 'manual')}{extra})", style
    if name == "run finished":
        ok = ev.get("status") == "succeeded"
        return ("✓ run succeeded" if ok else f"✗ run {ev.get('status')}{error}"), (
            "green" if ok else "red"
        )
    if name == "step finished":
        tries = ev.get("attempts", 1)
        return f"  step {step} done" + (f" ({tries} attempts)" if tries != 1 else ""), style
    if name == "step failed":
        return f"  step {step} failed{error}", "red"
    if name == "step failed, retrying":
        return f"  step {step} failed, retrying in {ev.get('delay')}s{error}", "yellow"
    if name == "step skipped":
        return f"  step {step} skipped (if: {ev.get('condition')})", "dim"
    if name == "firing gated":
        when = local_time(ev.get("scheduled_at"), ev.get("client"))
        return f"not run at {when[:5]}: {ev.get('reason')}", "dim"
    rest = _rest(ev)
    return (f"{name}{error}" if error else name) + (f"  {rest}" if rest else ""), style


def render(_: Any, __: str, ev: MutableMapping[str, Any]) -> str:
    """structlog renderer: ``time zone  client/workflow  text``, coloured on a terminal."""
    client, workflow = ev.get("client"), ev.get("workflow")
    ref = f"{client}/{workflow}" if client and workflow else str(client or "")
    text, style = message(ev)
    head = local_time(ev.get("timestamp"), client)
    line = f"{head}  {ref:24} {text}" if ref else f"{head}  {text}"
    if not _settings["color"] or not style:
        return line
    return _colored(line, style)


def _colored(line: str, style: str) -> str:
    from rich.console import Console
    from rich.text import Text

    with _lock:
        out = _COLOR.get("console")
        if out is None:
            out = _COLOR["console"] = Console(
                force_terminal=True, color_system="standard", width=100_000, highlight=False
            )
        with out.capture() as cap:
            out.print(Text(line, style=style), end="", soft_wrap=True)
    return cap.get()


_COLOR: dict[str, Any] = {}


# -- progress -------------------------------------------------------------------------------------
class Progress:
    """One piece of long work; ``advance`` as it goes (does nothing where no bar is drawn)."""

    def __init__(self, description: str, total: float | None) -> None:
        self.description = description
        self.total = total
        self.done = 0.0
        self._task: Any = None

    def advance(self, n: float = 1) -> None:
        self.done += n
        if self._task is not None:
            _BARS["progress"].update(self._task, advance=n)

    def set(self, done: float) -> None:
        """How much is done so far (instead of `advance`)."""
        self.advance(done - self.done)

    def update(self, *, total: float | None = None, description: str | None = None) -> None:
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description
        if self._task is not None:
            _BARS["progress"].update(self._task, total=self.total, description=self.description)


_BARS: dict[str, Any] = {"users": 0}


def _start_bar(p: Progress) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bars

    with _lock:
        if _BARS["users"] == 0:
            bars = Bars(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            bars.start()
            _BARS["progress"] = bars
        _BARS["users"] += 1
        p._task = _BARS["progress"].add_task(p.description, total=p.total)


def _stop_bar(p: Progress) -> None:
    with _lock:
        bars = _BARS["progress"]
        bars.remove_task(p._task)
        p._task = None
        _BARS["users"] -= 1
        if _BARS["users"] == 0:
            bars.stop()
            del _BARS["progress"]


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Progress]:
    """A progress bar on a terminal for the ``with`` block; nothing elsewhere."""
    p = Progress(description, total)
    if not _settings["bars"]:
        yield p
        return
    _start_bar(p)
    try:
        yield p
    finally:
        _stop_bar(p)


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """``items``, one by one, with a progress bar on a terminal (``total``: ``len(items)``)."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress(description, total) as bar:
        for item in items:
            yield item
            bar.advance()


__all__ = [
    "Progress",
    "local_time",
    "progress",
    "render",
    "set_zones",
    "setup",
    "show_time",
    "track",
    "wants_json",
]
