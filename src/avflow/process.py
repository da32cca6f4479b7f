"""Process-wide set-up every command needs before anything else: which home folder it uses,
and how it logs. Kept apart from `avflow.app` (the object graph) so a command line that only
needs these imports nothing heavy (docs/architecture.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from avflow.errors import UsageError

HOME_BESIDE = ".avflow-home"  # a home folder next to the workflows folder (what `make run` makes)


def resolve_home(option: Path | None, workflows: Path) -> tuple[Path, str]:
    """The home folder every command uses, and where it came from (docs/operations.md).

    ``--home``, else ``$AVFLOW_HOME``, else a ``.avflow-home`` folder next to the workflows
    folder when there is one, else the platform's user data folder. A ``.avflow-home`` that is a
    symbolic link, not a folder or not the user's own is a `UsageError` (one line, exit 2): it
    is never followed, nor silently passed over for another home.
    """
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
    are asked for (``json_logs``, else ``$AVFLOW_LOG_FORMAT=json``); ``utc``: times in UTC."""
    import logging

    import structlog

    from avflow import console, redact

    if json_logs is None:
        json_logs = console.wants_json(None)
    console.setup(utc=utc, bars=None if not json_logs else False)
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
    """Import structlog with rich hidden, once, before anything else imports it.

    structlog imports rich, pygments and attrs at once, only to draw tracebacks, which avflow
    never prints: 4 MB of the service's memory. Called before a command's module is imported.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]
