"""Opening a client's calendar accounts as backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from filelock import FileLock, Timeout

from avflow import StepContext, StepFailed
from avflow_calendar.backends import LOCK_TIMEOUT, Backend, IcsBackend
from avflow_calendar.remote_settings import CaldavSettings, GoogleCalendarSettings
from avflow_calendar.settings import IcsSettings


def open_backend(ctx: StepContext, name: str) -> Backend:
    """The backend of the client's account ``name`` (a step can reach only its own client's)."""
    account = ctx.account(name)
    settings = account.settings
    if isinstance(settings, IcsSettings):
        return IcsBackend(name, settings, ctx.client)
    if isinstance(settings, CaldavSettings):
        from avflow_calendar.caldavs import CaldavBackend

        return CaldavBackend(name, settings, client_lock(ctx, name))
    if isinstance(settings, GoogleCalendarSettings):
        from avflow_calendar.gcal import GoogleBackend

        return GoogleBackend(name, settings, ctx.client.id, client_lock(ctx, name))
    raise StepFailed(f"account {name!r} is a {account.type} account, not a calendar")


@contextlib.contextmanager
def open_all(ctx: StepContext, names: list[str]) -> Iterator[list[Backend]]:
    opened: list[Backend] = []
    try:
        for name in names:
            opened.append(open_backend(ctx, name))
        yield opened
    finally:
        for backend in opened:
            with contextlib.suppress(Exception):
                backend.close()


def client_lock(ctx: StepContext, account: str) -> Any:
    """A lock file per client calendar in the plugin's data folder: bookings made by processes
    of this machine (two runs, a run and a resume) take turns re-checking and creating."""
    folder = ctx.data_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"{ctx.client.id}.{account}.lock"))

    @contextlib.contextmanager
    def held() -> Iterator[None]:
        try:
            with lock.acquire(timeout=LOCK_TIMEOUT):
                yield
        except Timeout:
            raise StepFailed(
                f"calendar {account!r}: another booking held the lock for {LOCK_TIMEOUT:.0f}s"
            ) from None

    return held
