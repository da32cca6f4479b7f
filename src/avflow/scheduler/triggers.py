"""Event triggers: each workflow's ``on: events:`` entry watched in a thread of its own.

A trigger's ``watch(ctx, params)`` blocks and calls ``ctx.fire(payload)`` per event. If it raises
or returns while the service is running, the error is logged and it is started again after a
back-off (1 s, doubling up to 5 minutes), so a trigger never stops silently; a trigger that
keeps raising (``REPORT_AFTER`` times in a row) also counts as a failure of its workflow for the
failure notifier (``failed``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from avflow import redact
from avflow.context import resolve_refs
from avflow.errors import AvflowError, SecretError
from avflow.fsutil import private_dir
from avflow.loader import Client, Project
from avflow.plugins import Registry
from avflow.runtypes import Account, TriggerContext

log = structlog.get_logger("avflow.scheduler")
#: a trigger failing this many times in a row (each within a minute of its start) is reported
#: as a failure of its workflow: a revoked sign-in is, a passing network error is not
REPORT_AFTER = 3

Fire = Callable[[tuple[str, str], str, Mapping[str, Any]], None]


class _Watcher:
    def __init__(self, thread: threading.Thread, ctx: TriggerContext, signature: str) -> None:
        self.thread = thread
        self.ctx = ctx
        self.signature = signature


class Triggers:
    """Starts, restarts and stops the event-trigger threads to match the loaded workflows."""

    def __init__(
        self, registry: Registry, vault: Any, fire: Fire, home: Path | None = None
    ) -> None:
        self.registry = registry
        self.home = home
        self.vault = vault
        self.fire = fire
        self.watchers: dict[tuple[str, str, int], _Watcher] = {}
        #: told when a trigger fails, with (client, workflow) and the error: the service's
        #: failure notifier, so a trigger that stopped working (a revoked sign-in) is not silent
        self.failed: Callable[[tuple[str, str], str], None] | None = None

    def sync(self, project: Project) -> None:
        wanted: dict[tuple[str, str, int], tuple[Client, str, str, dict[str, Any]]] = {}
        for client in project.clients.values():
            for wf in client.workflows.values():
                timing = wf.timing  # read at load time: no validation for most workflows
                if not timing.enabled or not timing.events:
                    continue
                model = wf.model  # a kept workflow validates its data again at each read
                for i, ev in enumerate(model.on.events):
                    sig = json.dumps(
                        [ev.uses, ev.with_, client.profile.timezone, client.profile.accounts],
                        sort_keys=True,
                        default=str,
                    )
                    wanted[(client.id, wf.id, i)] = (client, ev.uses, sig, ev.with_)
        for key in [
            k for k, w in self.watchers.items() if k not in wanted or wanted[k][2] != w.signature
        ]:
            self._stop(key)
        for key, (client, uses, sig, params) in wanted.items():
            if key not in self.watchers:
                self._start(key, client, uses, sig, params)

    def _start(
        self, key: tuple[str, str, int], client: Client, uses: str, sig: str, params: dict[str, Any]
    ) -> None:
        trigger = self.registry.triggers[uses]
        wf_key = (key[0], key[1])
        wlog = log.bind(client=key[0], workflow=key[1], trigger=uses)
        ctx = TriggerContext(
            client=client.info(),
            workflow=key[1],
            account=lambda name: self._account(client, name),
            fire=lambda payload: self.fire(wf_key, uses, payload),
            log=wlog,
            data_dir=self._data_dir(uses),
        )
        model = trigger.params_model.model_validate(params)
        thread = threading.Thread(
            target=self._loop,
            args=(trigger.watch, ctx, model, wlog, wf_key),
            name=f"trigger-{key[0]}/{key[1]}#{key[2]}",
            daemon=True,
        )
        self.watchers[key] = _Watcher(thread, ctx, sig)
        thread.start()

    def _data_dir(self, uses: str) -> Path | None:
        plugin = self.registry.owners.get(f"trigger:{uses}")
        if self.home is None or plugin is None:
            return None
        return private_dir(self.home / "plugins" / plugin)

    def _loop(
        self,
        watch: Callable[[TriggerContext, Any], None],
        ctx: TriggerContext,
        params: Any,
        wlog: Any,
        wf_key: tuple[str, str],
    ) -> None:
        delay, streak = 1.0, 0
        while not ctx.stopping.is_set():
            wlog.info("trigger watching")
            started = time.monotonic()
            try:
                watch(ctx, params)
                if ctx.stopping.is_set():
                    break
                wlog.warning("trigger stopped by itself; starting it again", delay=delay)
            except Exception as exc:
                error = redact.redact(str(exc) or type(exc).__name__)
                wlog.error("trigger failed; starting it again", error=error, delay=delay)
                streak = 1 if time.monotonic() - started > 60 else streak + 1
                if streak == REPORT_AFTER and not ctx.stopping.is_set():
                    self._report(wf_key, error, wlog)
            ctx.stopping.wait(delay)
            delay = min(delay * 2, 300.0)
        wlog.info("trigger stopped")

    def _report(self, wf_key: tuple[str, str], error: str, wlog: Any) -> None:
        if self.failed is None:
            return
        try:
            self.failed(wf_key, error)
        except Exception as exc:  # reporting never stops the trigger
            wlog.error("trigger failure not reported", error=str(exc))

    def _account(self, client: Client, name: str) -> Account[Any]:
        raw = client.profile.accounts.get(name)
        if raw is None:
            raise AvflowError(f"client {client.id!r} has no account {name!r}")
        atype = self.registry.account_types[str(raw["type"])]
        try:
            settings = resolve_refs(
                client.id, {k: v for k, v in raw.items() if k != "type"}, self.vault
            )
            return Account(name, str(raw["type"]), atype.settings_model.model_validate(settings))
        except SecretError as exc:
            raise AvflowError(f"account {name!r}: {exc}") from None
        except ValidationError as exc:
            raise AvflowError(
                redact.redact(f"account {name!r}: {exc.errors()[0]['msg']}")
            ) from None

    def _stop(self, key: tuple[str, str, int], timeout: float = 5.0) -> None:
        watcher = self.watchers.pop(key)
        watcher.ctx.stopping.set()
        watcher.thread.join(timeout)
        if watcher.thread.is_alive():
            log.warning("trigger did not stop in time", client=key[0], workflow=key[1])

    def stop_all(self, timeout: float = 5.0) -> None:
        for w in self.watchers.values():
            w.ctx.stopping.set()
        for key in list(self.watchers):
            self._stop(key, timeout)
