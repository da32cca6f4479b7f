"""The `StepContext` handed to an action: accounts, cursors, the spool and the effect ledger."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from avflow import redact, templates
from avflow.api import Account, RunInfo
from avflow.errors import EffectUnknown, SecretError, StepFailed
from avflow.loader import REF_RE, Client
from avflow.state import utcnow_iso

if TYPE_CHECKING:
    from avflow.engine import Engine


class StoreCursor:
    """Cursor scoped to client + workflow + plugin."""

    def __init__(self, engine: Engine, client: str, workflow: str, plugin: str) -> None:
        self._s = engine.state
        self._scope = (client, workflow, plugin)

    def get(self, key: str, default: Any = None) -> Any:
        value = self._s.cursor_get(*self._scope, key)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self._s.cursor_set(*self._scope, key, value)

    def delete(self, key: str) -> None:
        self._s.cursor_delete(*self._scope, key)


def resolve_refs(client: str, value: Any, vault: Any) -> Any:
    """Fill ``${secret:NAME}`` and ``${env:NAME}`` references in an account's settings."""
    if isinstance(value, dict):
        return {k: resolve_refs(client, v, vault) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(client, v, vault) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: Any) -> str:
        name = m.group("name")
        if m.group("kind") == "secret":
            return str(vault.get(client, name))
        if name not in os.environ:
            raise SecretError(f"environment variable {name} is not set")
        env_value = os.environ[name]
        redact.register(env_value)
        return env_value

    return REF_RE.sub(sub, value)


class RunStepContext:
    """The concrete `avflow.StepContext`."""

    def __init__(
        self,
        engine: Engine,
        client: Client,
        run: RunInfo,
        step_id: str,
        action: str,
        template_context: dict[str, Any],
        log: Any,
    ) -> None:
        self._engine = engine
        self._client = client
        self.client = client.info(engine.tz(client))
        self.run = run
        self.step_id = step_id
        self.action = action
        self.log = log
        self._tctx = template_context
        self.cursor = StoreCursor(engine, client.id, run.workflow, action.split(".")[0])
        self.cancelled = threading.Event()
        self._accounts: dict[str, Account[Any]] = {}

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    @property
    def spool(self) -> Path:
        path = self._engine.home / "spool" / self.run.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def data_dir(self) -> Path:
        path = self._engine.home / "plugins" / self.action.split(".")[0]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def now(self) -> datetime:
        return self._engine.clock.now()

    def account(self, name: str) -> Account[Any]:
        if name in self._accounts:
            return self._accounts[name]
        raw = self._client.profile.accounts.get(name)
        if raw is None:
            raise StepFailed(f"client {self.client.id!r} has no account {name!r}")
        atype = self._engine.registry.account_types.get(str(raw["type"]))
        if atype is None:
            raise StepFailed(f"account {name!r}: unknown account type {raw['type']!r}")
        try:
            settings = resolve_refs(
                self.client.id, {k: v for k, v in raw.items() if k != "type"}, self._engine.vault
            )
            model = atype.settings.model_validate(settings)
        except SecretError as exc:
            raise StepFailed(f"account {name!r}: {exc}") from None
        except ValidationError as exc:
            raise StepFailed(redact.redact(f"account {name!r}: {exc.errors()[0]['msg']}")) from None
        acc = Account(name, str(raw["type"]), model)
        self._accounts[name] = acc
        return acc

    def render(self, template: str, **variables: Any) -> str:
        return str(templates.compiled(template).render(**self._tctx, **variables))

    def note(self, message: str, **details: Any) -> None:
        """Write ``message`` to the log and to the client's audit trail."""
        message = redact.redact(message)
        self.log.info(message, **details)
        self._engine.audit.record(
            self.client.id,
            "step.note",
            workflow=self.run.workflow,
            run=self.run.id,
            step=self.step_id,
            description=message,
            details=details,
        )

    # -- the effect ledger ------------------------------------------------------------------------
    def _ledger_key(self, key: str, scope: str) -> str:
        if scope == "run":
            return f"{self.run.key}#{key}"
        if scope == "workflow":
            return f"{self.run.workflow}#{key}"
        if scope == "client":
            return key
        raise ValueError(f"effect scope must be run, workflow or client, not {scope!r}")

    def effect_status(self, key: str, *, scope: str = "run") -> str | None:
        row = self._engine.state.effect(self.client.id, self._ledger_key(key, scope))
        return None if row is None else str(row["status"])

    def effect(
        self,
        key: str,
        description: str,
        perform: Callable[[], Any],
        *,
        kind: str = "",
        reconcile: Callable[[], Any] | None = None,
        idempotent: bool = False,
        scope: str = "run",
    ) -> Any:
        if self.cancelled.is_set():
            raise StepFailed("the step was cancelled (timeout); no further effects are performed")
        engine, client = self._engine, self.client.id
        full = self._ledger_key(key, scope)
        kind = kind or self.action
        description = redact.redact(description)
        audit = dict(workflow=self.run.workflow, run=self.run.id, step=self.step_id, effect=key)
        if self.dry_run:
            with engine.state.tx() as db:
                seq = db.execute(
                    "SELECT COUNT(*) FROM dry_effects WHERE run_id = ?", (self.run.id,)
                ).fetchone()[0]
                db.execute(
                    "INSERT INTO dry_effects VALUES (?, ?, ?, ?, ?, ?)",
                    (self.run.id, seq, self.step_id, key, kind, description),
                )
            engine.audit.record(
                client, "effect.dry_run", description=description, details={"kind": kind}, **audit
            )
            self.log.info("would perform", effect=key, description=description)
            return None
        row = engine.state.effect(client, full)
        if row is not None and row["status"] == "done":
            self.log.debug("effect already done", effect=key)
            return json.loads(row["result"]) if row["result"] else None
        if row is not None and reconcile is not None:
            found = reconcile()
            engine.audit.record(
                client,
                "effect.reconciled",
                description=description,
                details={"kind": kind, "found": found is not None},
                **audit,
            )
            if found is not None:
                self._finish(full, "done", found)
                return found
        elif row is not None and row["status"] == "pending" and not idempotent:
            raise EffectUnknown(
                f"effect {key!r} ({description}) was interrupted and its outcome is unknown; "
                "the action offers no way to check it, so it is not repeated"
            )
        now = utcnow_iso()
        with engine.state.tx() as db:
            db.execute(
                """INSERT INTO effects (client, key, run_id, step, kind, description, status, result, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?)
                   ON CONFLICT (client, key) DO UPDATE SET status = 'pending', run_id = excluded.run_id,
                     updated_at = excluded.updated_at""",
                (client, full, self.run.id, self.step_id, kind, description, now, now),
            )
        engine.audit.record(
            client, "effect.intent", description=description, details={"kind": kind}, **audit
        )
        hook = engine.effect_hook
        if hook is not None:
            hook("before", key)
        try:
            result = perform()
            if hook is not None:
                hook("after", key)
        except Exception as exc:
            self._finish(full, "failed", None)
            engine.audit.record(
                client,
                "effect.failed",
                description=description,
                details={"kind": kind, "error": redact.redact(str(exc))},
                **audit,
            )
            raise
        self._finish(full, "done", result)
        engine.audit.record(
            client, "effect.done", description=description, details={"kind": kind}, **audit
        )
        return result

    def _finish(self, full: str, status: str, result: Any) -> None:
        try:
            encoded = json.dumps(redact.redact(result))
        except TypeError:
            encoded = json.dumps(repr(result))
        # Not fsynced: the intent was, so an outcome lost with the machine is reconciled.
        with self._engine.state.tx(durable=False) as db:
            db.execute(
                "UPDATE effects SET status = ?, result = ?, updated_at = ? WHERE client = ? AND key = ?",
                (status, encoded, utcnow_iso(), self.client.id, full),
            )
