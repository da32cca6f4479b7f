"""Process-wide set-up every command needs before anything else: which home folder it uses,
and how it logs. Kept apart from `avflow.app` (the object graph) so a command line that only
needs these imports nothing heavy (docs/architecture.md)."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avflow.errors import UsageError

HOME_BESIDE = ".avflow-home"  # a home folder next to the workflows folder (what `make run` makes)


def resolve_home(option: Path | None, workflows: Path) -> tuple[Path, str]:
    """The home folder every command uses, and where it came from (docs/operations.md).

    ``--home``, else ``$AVFLOW_HOME``, else a ``.avflow-home`` folder next to the workflows
    folder when there is one, else the platform's user data folder. A ``.avflow-home`` that is a
    symbolic link, not a folder or not the user's own is a `UsageError` (one line, exit 2): it
    is never followed, nor silently passed over for another home. So is a home that holds the
    workflows folder (``--home ""`` is the current folder): every client path would lead into it;
    and a home inside it (the service would watch its own writes, and it would be a client).
    """
    home, source = _find_home(option, workflows)
    problem = layout_problem(home, source, workflows)
    if problem is not None:
        raise UsageError(problem)
    return home, source


def layout_problem(home: Path, source: str, workflows: Path) -> str | None:
    """Why ``home`` and ``workflows`` may not be used together (one holds the other, as
    written or through symbolic links), or None."""
    for where in (os.path.abspath, os.path.realpath):
        h, w = Path(where(home)), Path(where(workflows))
        if w.is_relative_to(h):
            return (
                f"the home folder {os.path.abspath(home)} ({source}) holds the workflows folder "
                f"{workflows}: give a home beside it, not above it (--home)"
            )
        if h.is_relative_to(w):
            return (
                f"the home folder {os.path.abspath(home)} ({source}) is inside the workflows "
                f"folder {workflows}: give a home beside it, not inside it (--home)"
            )
    return None


def _find_home(option: Path | None, workflows: Path) -> tuple[Path, str]:
    if option is not None:
        return option, "--home"
    env = os.environ.get("AVFLOW_HOME")
    if env:
        return Path(env), "AVFLOW_HOME"
    beside = Path(os.path.abspath(workflows)).parent / HOME_BESIDE
    if beside.is_symlink() or (beside.exists() and not beside.is_dir()):
        raise UsageError(f"{beside} is a symbolic link or not a folder: give the home with --home")
    if beside.is_dir():
        if beside.stat().st_uid != os.getuid():
            raise UsageError(f"{beside} belongs to another user: give the home with --home")
        return beside, f"{HOME_BESIDE} beside the workflows folder"
    import platformdirs

    return Path(platformdirs.user_data_dir("avflow")), "the platform default"


def default_home(workflows: Path | None = None) -> Path:
    """The home folder when no ``--home`` is given (see `resolve_home`)."""
    where = workflows or Path(os.environ.get("AVFLOW_WORKFLOWS") or "workflows")
    return resolve_home(None, where)[0]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (it may be replaced after logging is set up)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "info", json_logs: bool | None = None, *, utc: bool = False
) -> None:
    """structlog to stderr, secrets redacted: human lines (`avflow.console`) unless JSON lines
    are asked for (``json_logs``, else ``$AVFLOW_LOG_FORMAT=json``); ``utc``: times in UTC.

    When structlog is not imported yet, it is configured the moment something imports it
    (see `quiet_structlog`): a command that logs nothing (``validate``, ``next``) never pays
    for importing it."""
    from avflow import console

    if json_logs is None:
        json_logs = console.wants_json(None)
    console.setup(utc=utc, bars=None if not json_logs else False)
    if "structlog" in sys.modules:
        _configure_structlog(level, json_logs)
    else:
        _STRUCTLOG_HOOK.settings = (level, json_logs)
        quiet_structlog()


def _configure_structlog(level: str, json_logs: bool) -> None:
    import logging

    import structlog

    from avflow import console, redact

    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else console.render
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact.structlog_processor,  # type: ignore[list-item]
            renderer,
            redact.rendered,  # what the renderer made of objects (reprs, tracebacks) too
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def quiet_structlog() -> None:
    """Have structlog, when first imported, imported with rich hidden (and configured, once
    `configure_logging` has been called). Imports nothing now.

    structlog imports rich, pygments and attrs at once, only to draw tracebacks, which avflow
    never prints: 4 MB of the service's memory. The command line calls this before a command's
    module is imported; importing ``avflow`` alone never does (it changes no global state).
    """
    if "structlog" in sys.modules or _STRUCTLOG_HOOK in sys.meta_path:
        return
    sys.meta_path.insert(0, _STRUCTLOG_HOOK)


class _StructlogImport:
    """The first import of structlog: run with rich hidden, then configured (``settings``).
    A finder on ``sys.meta_path`` and the loader of structlog's package (duck-typed: importing
    ``importlib.abc`` would cost more than the rest of this module)."""

    def __init__(self) -> None:
        self.settings: tuple[str, bool] | None = None
        self.real: Any = None

    name = "structlog"

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and the search below does not come back here
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        self.real, spec.loader = spec.loader, self  # type: ignore[assignment]
        return spec

    def create_module(self, spec: Any) -> Any:
        return self.real.create_module(spec)

    def exec_module(self, module: Any) -> None:
        hide = "rich" not in sys.modules
        if hide:
            sys.modules["rich"] = None  # type: ignore[assignment]
        try:
            self.real.exec_module(module)
        finally:
            if hide:
                del sys.modules["rich"]
            module.__loader__ = module.__spec__.loader = self.real
        if self.settings is not None:
            _configure_structlog(*self.settings)


_STRUCTLOG_HOOK = _StructlogImport()


def quiet_croniter() -> None:
    """Have croniter, when first imported, imported without starting a process. Imports
    nothing now; called by the command line beside `quiet_structlog`.

    croniter's module calls ``platform.architecture()`` once, to tell a 32-bit Python, and that
    runs ``file -b`` on the interpreter in a child process (and imports ``subprocess``): about
    10 ms of every command that reads a cron (``validate``, ``next``, ``run``). While croniter's
    package runs, ``platform.architecture`` answers from the pointer size, as it does itself
    where ``file`` is missing; it is put back as soon as the package is imported."""
    if "croniter" in sys.modules or _CRONITER_HOOK in sys.meta_path:
        return
    sys.meta_path.insert(0, _CRONITER_HOOK)


class _CroniterImport(_StructlogImport):
    """The first import of croniter, with ``platform.architecture`` answered without ``file``
    (see `quiet_croniter`)."""

    name = "croniter"

    def exec_module(self, module: Any) -> None:
        import platform

        real = platform.architecture
        platform.architecture = _architecture
        try:
            self.real.exec_module(module)
        finally:
            platform.architecture = real
            module.__loader__ = module.__spec__.loader = self.real


def _architecture(executable: str = "", bits: str = "", linkage: str = "") -> tuple[str, str]:
    """``platform.architecture()`` where ``file`` cannot be run: the pointer size's bits."""
    import struct

    return bits or f"{struct.calcsize('P') * 8}bit", linkage


_CRONITER_HOOK = _CroniterImport()


# Young objects collected every this many allocations while a command runs (Python's default:
# 700). A command's start-up (imports, the plugins' models, the project) makes a few hundred
# thousand objects that all stay alive; at 700, the collector scans them again and again.
YOUNG_COLLECTION = 100_000
_freeze_at_exit = False  # registered once per process


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """While a command runs: young objects collected every `YOUNG_COLLECTION` allocations
    (cyclic garbage waits a little longer: a few MB at most). At the process's exit, one
    collection frees the garbage left (its finalizers run: a file it held is flushed) and the
    objects still alive are frozen (`gc.freeze`), so the interpreter's own last collections do
    not scan them again (docs/operations.md, "Command-line start-up"). The thresholds are put
    back when the command returns, the objects it made moved to the oldest generation first:
    with up to `YOUNG_COLLECTION` young objects pending, the old threshold would start a
    collection at once, scanning what the exit's collection scans again."""
    global _freeze_at_exit
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_COLLECTION), *before[1:])
    if not _freeze_at_exit:
        _freeze_at_exit = True
        atexit.register(_collect_and_freeze)
    try:
        yield
    finally:
        _put_back(before)


def _put_back(thresholds: tuple[int, int, int]) -> None:
    """``gc.set_threshold(*thresholds)`` without the collection it would start. `gc.freeze`
    empties the young generations (their count back to 0) and `gc.unfreeze` hands everything to
    the oldest: still collectable, by the next full collection or the one at exit. Not done when
    the caller keeps objects frozen itself (unfreezing would release them)."""
    if gc.get_freeze_count():
        gc.set_threshold(*thresholds)
        return
    gc.freeze()
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def _collect_and_freeze() -> None:
    gc.collect()
    gc.freeze()
