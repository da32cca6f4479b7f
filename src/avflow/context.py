"""The `StepContext` handed to an action: accounts, cursor, spool, clock and the effect ledger.

It is given exactly what it uses, never the engine (docs/architecture.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from avflow import redact, templates
from avflow.api import AccountType, ClientInfo, Cursor
from avflow.audit import AuditTrail
from avflow.clock import Clock
from avflow.errors import EffectUnknown, SecretError, StepFailed
from avflow.fsutil import private_dir
from avflow.ledger import Effect, EffectLedger, EffectSite
from avflow.ledger_batch import EffectBatch
from avflow.loader import REF_RE, Client
from avflow.runtypes import Account, RunInfo
from avflow.state import State

if TYPE_CHECKING:
    from avflow.approval_store import ApprovalStore
    from avflow.approvals import Approval


class StoreCursor:
    """Cursor scoped to client + workflow + plugin."""

    def __init__(self, state: State, client: str, workflow: str, plugin: str) -> None:
        self._s = state
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


class Accounts:
    """One client's accounts, resolved on first use with their secrets filled in."""

    def __init__(self, client: Client, types: Mapping[str, AccountType[Any]], vault: Any) -> None:
        self._client = client
        self._types = types
        self._vault = vault
        self._resolved: dict[str, Account[Any]] = {}

    def get(self, name: str) -> Account[Any]:
        if name in self._resolved:
            return self._resolved[name]
        raw = self._client.profile.accounts.get(name)
        if raw is None:
            raise StepFailed(f"client {self._client.id!r} has no account {name!r}")
        atype = self._types.get(str(raw["type"]))
        if atype is None:
            raise StepFailed(f"account {name!r}: unknown account type {raw['type']!r}")
        try:
            settings = resolve_refs(
                self._client.id, {k: v for k, v in raw.items() if k != "type"}, self._vault
            )
            model = atype.settings_model.model_validate(settings)
        except SecretError as exc:
            raise StepFailed(f"account {name!r}: {exc}") from None
        except ValidationError as exc:
            raise StepFailed(redact.redact(f"account {name!r}: {exc.errors()[0]['msg']}")) from None
        self._resolved[name] = Account(name, str(raw["type"]), model)
        return self._resolved[name]


class RunStepContext:
    """The concrete `avflow.StepContext` of one attempt of one step."""

    def __init__(
        self,
        *,
        client: ClientInfo,
        run: RunInfo,
        step_id: str,
        action: str,
        log: Any,
        template_context: dict[str, Any],
        ledger: EffectLedger,
        audit: AuditTrail,
        accounts: Accounts,
        cursor: Cursor,
        spool: Path,
        data_dir: Path,
        clock: Clock,
        approvals: ApprovalStore | None = None,
    ) -> None:
        self.client = client
        self.run = run
        self.step_id = step_id
        self.action = action
        self.log = log
        self.cursor = cursor
        self.cancelled = threading.Event()  # set when the attempt timed out: no new effect
        self.performing: str | None = None  # the effect whose perform() runs now, if any
        self.done_late: list[str] = []  # effects that ended done after the attempt timed out
        # an EffectUnknown raised to the action: the step fails even if the action caught it
        self.unknown: str | None = None
        # one of the action's own templates failed to render: the same values fail again
        self.template_failed = False
        self._tctx = template_context
        self._ledger = ledger
        self._audit = audit
        self._accounts = accounts
        self._spool = spool
        self._data_dir = data_dir
        self._clock = clock
        self._approvals = approvals
        self._site = EffectSite(client.id, run.workflow, run.id, run.key, step_id)

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    @property
    def spool(self) -> Path:
        return private_dir(self._spool)

    @property
    def data_dir(self) -> Path:
        return private_dir(self._data_dir)

    def now(self) -> datetime:
        return self._clock.now()

    def account(self, name: str) -> Account[Any]:
        return self._accounts.get(name)

    def render(self, template: str, **variables: Any) -> str:
        try:
            return str(templates.compiled(template).render(**self._tctx, **variables))
        except Exception:
            self.template_failed = True  # the step's failure, if it fails, is not retried
            raise

    def note(self, message: str, **details: Any) -> None:
        """Write ``message`` to the log and to the client's audit trail."""
        message = redact.redact(message)
        self.log.info(message, **details)
        self._audit.record(
            self.client.id,
            "step.note",
            workflow=self.run.workflow,
            run=self.run.id,
            step=self.step_id,
            description=message,
            details=details,
        )

    def request_approval(
        self,
        summary: str,
        *,
        preview: Sequence[str] | None = None,
        timeout: float | str | None = None,
        default: str | None = None,
        key: str = "approval",
    ) -> Approval:
        """Wait for a person's decision before going on (docs/approvals.md, docs/plugins.md)."""
        from avflow import approval_flow

        request = approval_flow.make_request(
            summary, preview=preview, timeout=timeout, default=default, key=key
        )
        if self.dry_run:
            self.note(f"would ask for approval: {request.summary}")
            return approval_flow.dry_approval(self.run, self.step_id, request, self.now())
        if self._approvals is None:
            raise StepFailed("approvals are not available here")
        return approval_flow.ask(self._approvals, self.run, self.step_id, request)

    def effect_status(self, key: str, *, scope: str = "run") -> str | None:
        return self._ledger.status(self._site, key, scope)

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
        words: Mapping[str, Any] | None = None,
    ) -> Any:
        """Perform one effect through the ledger (`avflow.ledger`; docs/plugins.md)."""
        return self._effect(
            key, description, perform, kind, reconcile, idempotent, scope, words, None
        )

    def _effect(
        self,
        key: str,
        description: str,
        perform: Callable[[], Any],
        kind: str,
        reconcile: Callable[[], Any] | None,
        idempotent: bool,
        scope: str,
        words: Mapping[str, Any] | None,
        batch: EffectBatch | None,
    ) -> Any:
        if self.cancelled.is_set():
            raise StepFailed("the step was cancelled (timeout); no further effects are performed")
        self._site.scope_id(scope)  # a wrong scope is the plugin's error, before anything
        effect = Effect(
            key,
            redact.redact(description),
            perform,
            kind or self.action,
            reconcile,
            idempotent,
            scope,
            _plain(words),
        )
        if self.dry_run:
            self._ledger.record_dry(self._site, effect)
            self.log.info("would perform", effect=key, description=effect.description)
            return None
        self.performing = key
        try:
            if batch is not None:
                value = batch.perform(effect)
            else:
                value = self._ledger.perform(self._site, effect, self.cancelled)
            if self.cancelled.is_set():
                self.done_late.append(key)
            return value
        except EffectUnknown as exc:
            self.unknown = str(exc)
            raise
        finally:
            self.performing = None

    def effect_batch(
        self,
        plan: Iterable[tuple[str, str]],
        *,
        kind: str = "",
        scope: str = "run",
        chunk: int = 100,
    ) -> StepEffectBatch:
        """The effects this step plans, as ``(key, description)`` in order: their intents are
        committed ``chunk`` at a time (`avflow.ledger_batch`; docs/plugins.md)."""
        self._site.scope_id(scope)
        planned = [
            Effect(key, redact.redact(description), _unplanned, kind or self.action, scope=scope)
            for key, description in plan
        ]
        batch = (
            None
            if self.dry_run
            else EffectBatch(self._ledger, self._site, planned, self.cancelled, chunk)
        )
        return StepEffectBatch(self, batch)


class StepEffectBatch:
    """What `RunStepContext.effect_batch` returns: ``effect()`` as on the step context; use it
    as a context manager, whose exit releases the intents of planned effects not performed."""

    def __init__(self, ctx: RunStepContext, batch: EffectBatch | None) -> None:
        self._ctx, self._batch = ctx, batch

    def __enter__(self) -> StepEffectBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()

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
        words: Mapping[str, Any] | None = None,
    ) -> Any:
        """Perform one effect through the ledger, as `RunStepContext.effect` does."""
        return self._ctx._effect(
            key, description, perform, kind, reconcile, idempotent, scope, words, self._batch
        )


def _unplanned() -> None:
    raise AssertionError("a planned effect is performed with the perform() given to effect()")


def _plain(words: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An effect's words as the audit trail keeps them: JSON scalars, secrets masked."""
    if not words:
        return None
    return {
        str(k): v if isinstance(v, bool | int | float) or v is None else redact.redact(str(v))
        for k, v in words.items()
    }
