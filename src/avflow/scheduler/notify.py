"""The failure notifier, on the ``run_finished`` hook: when to tell the AV, not how.

Every failed run is logged. For each notifier configured in ``service.yaml`` (``notify: <name>:``;
plugins supply them through the ``register_notifiers`` hook, the email plugin the ``email`` one),
the first failure of a workflow after a success (a new *failure burst*) is reported; further
failures of the same workflow are not, until it succeeds again (or, if ``repeat`` is set, until
that long has passed). Failures that start within ``batch`` seconds of each other go out in one
message. Step retries happen inside a run, so they never produce a message of their own. Whether
a workflow is failing survives a restart (``notify_state`` in ``state.db``).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError

from avflow.clock import Clock
from avflow.errors import ConfigError
from avflow.loader import Project
from avflow.notifiers import Notifier, NotifierSettings
from avflow.pluginmarker import hookimpl
from avflow.runtypes import Failure, RunInfo
from avflow.scheduler.store import ScheduleStore, parse_iso

log = structlog.get_logger("avflow.notify")


def configure(
    sections: Mapping[str, Any], notifiers: Mapping[str, Notifier[Any]]
) -> list[tuple[Notifier[Any], NotifierSettings]]:
    """``service.yaml``'s ``notify:`` sections, each checked by the notifier of that name."""
    out = []
    for name, raw in sections.items():
        notifier = notifiers.get(name)
        if notifier is None:
            known = ", ".join(sorted(notifiers)) or "none installed"
            raise ConfigError(f"notify.{name}: no plugin offers this notifier (known: {known})")
        model = notifier.settings_model
        try:
            settings = raw if isinstance(raw, model) else model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("notify", name, *first["loc"]))
            raise ConfigError(f"{where}: {first['msg']}") from None
        out.append((notifier, settings))
    return out


class _Channel:
    """One configured notifier: its pending failures and the thread that sends them."""

    def __init__(self, owner: FailureNotifier, notifier: Notifier[Any], settings: Any) -> None:
        self.owner = owner
        self.notifier = notifier
        self.settings: NotifierSettings = settings
        self.pending: list[Failure] = []
        self.thread = threading.Thread(
            target=self._sender, name=f"notifier-{notifier.name}", daemon=True
        )
        self.thread.start()

    def _sender(self) -> None:
        cond = self.owner.cond
        while True:
            with cond:
                cond.wait_for(lambda: self.pending or self.owner.closing)
                if not self.pending and self.owner.closing:
                    return
                if not self.owner.closing:  # let a burst gather, unless we are shutting down
                    cond.wait_for(lambda: self.owner.closing, timeout=self.settings.batch)
                batch, self.pending = self.pending, []
            self._send(batch)

    def _send(self, batch: list[Failure]) -> None:
        by_to: dict[str | None, list[Failure]] = {}
        for item in batch:
            by_to.setdefault(self.owner.client_address(item.client, self.notifier.name), []).append(
                item
            )
        for to, items in by_to.items():
            if to is not None:  # the client's own address: in the client's language
                items = [replace(i, language=self.owner.client_language(i.client)) for i in items]
            names = [f"{i.client}/{i.workflow}" for i in items]
            try:
                self.notifier.send(self.settings, items, to)
            except Exception as exc:  # a notifier's failure is logged, never fatal
                log.error("failure notice not sent", notifier=self.notifier.name, error=str(exc))
                continue
            self.owner.store.mark_notified(
                {(i.client, i.workflow) for i in items}, self.owner.clock.now()
            )
            log.info("failure notice sent", notifier=self.notifier.name, workflows=names)


class FailureNotifier:
    """Registered on the plugin manager by the service; each notifier sends from its own thread."""

    def __init__(
        self,
        store: ScheduleStore,
        channels: list[tuple[Notifier[Any], NotifierSettings]],
        clock: Clock,
        client_address: Callable[[str, str], str | None] | None = None,
        client_language: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.client_address = client_address or (lambda client, notifier: None)
        self.client_language = client_language or (lambda client: "en")
        self.cond = threading.Condition()
        self.closing = False
        self.channels = [_Channel(self, n, s) for n, s in channels]

    @hookimpl
    def run_finished(self, run: RunInfo, status: str, error: str | None) -> None:
        if run.dry_run:
            return
        if status == "succeeded":
            if self.store.clear_failing(run.client, run.workflow):
                log.info("workflow recovered", client=run.client, workflow=run.workflow, run=run.id)
            return
        if status != "failed":
            return
        self.report(run.client, run.workflow, run.id, error, run.scheduled_at)

    def trigger_failed(self, key: tuple[str, str], error: str) -> None:
        """A workflow's event trigger failed (a revoked sign-in, a server gone): the workflow
        can no longer start, so it is failing like a failed run (reported once per burst)."""
        self.report(key[0], key[1], "trigger", f"its trigger failed: {error}", None)

    def report(
        self,
        client: str,
        workflow: str,
        run: str,
        error: str | None,
        scheduled_at: datetime | None,
    ) -> None:
        """Record a failure of ``client/workflow`` and queue a notice if it starts a burst."""
        log.error("workflow failed", client=client, workflow=workflow, run=run, error=error)
        now = self.clock.now()
        row = self.store.failing(client, workflow)
        self.store.mark_failing(client, workflow, now)
        notified = parse_iso(row["notified_at"]) if row is not None else None
        failure = Failure(
            client=client,
            workflow=workflow,
            run=run,
            error=error,
            scheduled_at=scheduled_at,
            at=now,
            failures=1 if row is None else row["failures"] + 1,
        )
        with self.cond:
            for channel in self.channels:
                repeat = channel.settings.repeat
                if row is not None and (
                    notified is not None
                    and (not repeat or now - notified < timedelta(seconds=repeat))
                ):
                    continue  # the same burst, already reported
                if any((p.client, p.workflow) == (client, workflow) for p in channel.pending):
                    continue  # about to be reported
                channel.pending.append(failure)
            self.cond.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Send what is pending now and stop the sender threads."""
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        for channel in self.channels:
            channel.thread.join(timeout)


def client_address(project: Project, client: str, notifier: str) -> str | None:
    """A client's own address for one notifier (``notify: {<notifier>: ...}`` in its profile)."""
    c = project.clients.get(client)
    if c is None or c.profile.notify is None:
        return None
    value = c.profile.notify.model_dump().get(notifier)
    return value if isinstance(value, str) and value else None


def client_language(project: Project, client: str) -> str:
    """The client's ``language:`` (``client.yaml``), for notices sent to the client."""
    c = project.clients.get(client)
    return c.profile.language if c is not None else "en"
