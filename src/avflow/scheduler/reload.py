"""Reloading workflows under a running service, keeping the last good version of a broken file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from avflow.errors import ConfigError
from avflow.loader import Client, Loader, Project
from avflow.readstamps import ReadStamps
from avflow.scheduler.planner import Job, Planner

log = structlog.get_logger("avflow.scheduler")


def apply_jobs(
    planner: Planner, new_jobs: dict[tuple[str, str], Job], now: datetime
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Bring the planner to ``new_jobs`` after a reload: the refs added and changed, the keys
    removed. An unchanged schedule keeps its next firing; a changed one restarts from ``now``."""
    added, changed, removed = [], [], []
    for key in [k for k in planner.jobs if k not in new_jobs]:
        planner.remove(key)
        removed.append(key)
    for key, job in new_jobs.items():
        old = planner.jobs.get(key)
        if old is not None and old.fingerprint == job.fingerprint:
            old.gate, old.catch_up, old.grace, old.max_catch_up = (
                job.gate,
                job.catch_up,
                job.grace,
                job.max_catch_up,
            )
            continue
        if old is not None:
            job.inflight = old.inflight
            changed.append(job.ref)
        else:
            added.append(job.ref)
        planner.add(job, job.schedule.next_after(now))
    return added, changed, removed


def _path(err: ConfigError) -> Path | None:
    if err.location is None:
        return None
    return Path(err.location.file).resolve()


def merge(
    old: Project | None, new: Project, errors: list[ConfigError]
) -> tuple[Project, list[str]]:
    """``new`` with the last good version (from ``old``) of every file that now has errors.

    A ``client.yaml`` with errors (a broken file, an account of a type no loaded plugin offers,
    a root it may not have) keeps the whole client as it was; a new client whose profile has
    errors is not loaded. Returns the merged project and the refs (``client`` or
    ``client/workflow``) kept from ``old``.
    """
    kept: list[str] = []
    if old is None:
        return new, kept
    bad = {p for p in map(_path, errors) if p is not None}
    if any(e.location is None for e in errors) or not new.root.is_dir():
        return old, ["everything"]  # e.g. the workflows folder is gone: change nothing
    for cid in [c for c, client in new.clients.items() if _profile_bad(client.path, bad)]:
        del new.clients[cid]  # its last good version (if any) comes back below
    for cid, client in old.clients.items():
        if cid not in new.clients:
            if _profile_bad(client.path, bad):
                new.clients[cid] = client
                kept.append(cid)
            continue
        fresh = new.clients[cid]
        for wid, wf in client.workflows.items():
            if wid not in fresh.workflows and wf.path.resolve() in bad:
                fresh.workflows[wid] = wf
                kept.append(f"{cid}/{wid}")
    new.clients = dict(sorted(new.clients.items()))
    return new, kept


def _profile_bad(cdir: Path, bad: set[Path]) -> bool:
    cdir = cdir.resolve()
    return cdir in bad or (cdir / "client.yaml") in bad or (cdir / "client.yml") in bad


def log_errors(errors: list[ConfigError], merged: Project, kept: list[str]) -> None:
    """One error line per mistake a reload found, saying whether the file's last good version
    goes on running or the file is not loaded at all (it never was valid)."""
    files: set[Path] = set()
    for ref in kept:
        cid, _, wid = ref.partition("/")
        client = merged.clients.get(cid)
        if client is None:
            continue
        if not wid:  # the whole client as it was
            cdir = client.path.resolve()
            files |= {cdir, cdir / "client.yaml", cdir / "client.yml"}
            files |= {wf.path.resolve() for wf in client.workflows.values()}
        elif wid in client.workflows:
            files.add(client.workflows[wid].path.resolve())
    root = merged.root.resolve()
    for err in errors:
        path = _path(err)
        if path is None:
            event = "reload failed"
        elif not path.is_relative_to(root):  # the home's service.yaml (its roots: a client gone)
            event = "service.yaml error: the service goes on with the settings it started with"
        elif path in files:
            event = "invalid workflow file: keeping the last good version"
        else:
            event = "invalid workflow file: not loaded (it has no earlier good version)"
        log.error(event, error=str(err))


def load_then_watch(
    loader: Loader, root: Path, watch: bool, reload: Callable[[str], None]
) -> tuple[Project, list[ConfigError], FileWatcher | None]:
    """The service's first load of ``root``, then (if ``watch`` and the folder has no error)
    its `FileWatcher`, set up once the files are read: watching while reading woke the
    watcher at every file opened. What changed in between is found by the stamps of what was
    read (`avflow.readstamps`) and causes a reload, as a change seen by the watch does."""
    loader.stamps = ReadStamps(root) if watch else None
    try:
        project, errors = loader.load(root)
    finally:
        read, loader.stamps = loader.stamps, None  # later loads run under the watch
    if read is None or errors:
        return project, errors, None
    watcher = FileWatcher(root, lambda: reload("files changed"))
    watcher.start(read)
    return project, errors, watcher


def same_client(a: Client, b: Client) -> bool:
    return a.profile == b.profile


class FileWatcher:
    """Calls ``changed()`` when a ``.yaml``/``.yml`` file under ``root`` changes.

    `start` sets up the watches before it returns, then compares what the service read with
    the files as they are (`avflow.readstamps`: the service starts the watcher once it has
    read the workflows), so an edit made while the service starts is never missed: at worst it
    causes one reload right after start-up. Uses watchfiles' Rust backend, ``RustNotify`` (the
    class its API reference documents as what ``watchfiles.watch`` runs on), for that synchronous
    set-up. Should a future watchfiles move it, the service logs the error and reloads on SIGHUP
    only.
    """

    def __init__(
        self, root: Path, changed: Callable[[], None], step_ms: int = 500, debounce_ms: int = 800
    ) -> None:
        self.root = root
        self.changed = changed
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="file-watcher", daemon=True)
        self._notify: Any = None

    def start(self, read: ReadStamps | None = None) -> None:
        """Watch; then, if ``read`` (what was read before) changed meanwhile, call ``changed``."""
        try:
            from watchfiles._rust_notify import RustNotify

            # paths, debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
            self._notify = RustNotify([str(self.root)], False, False, 300, True, False)
        except Exception as exc:
            self._cannot_watch(exc)
            return
        self.thread.start()
        if read is not None and read.changed():
            self.changed()

    def _run(self) -> None:
        try:
            with self._notify as notify:
                while not self.stop_event.is_set():
                    raw = notify.watch(self.debounce_ms, self.step_ms, 0, self.stop_event)
                    if raw == "stop":
                        return
                    if isinstance(raw, set) and any(_wanted(path) for _, path in raw):
                        self.changed()
        except Exception as exc:
            self._cannot_watch(exc)

    def _cannot_watch(self, exc: Exception) -> None:
        log.error(
            "cannot watch the workflows folder; reload with SIGHUP",
            error=str(exc),
            folder=str(self.root),
        )

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(5)


def _wanted(path: str) -> bool:
    return path.endswith((".yaml", ".yml")) and "/." not in path
