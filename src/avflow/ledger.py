"""The effect ledger: why avflow never performs an effect twice (docs/architecture.md).

Every effect goes through `EffectLedger.perform`, in this order:

1. **intent**: the row ``(client, scope, scope id, key)`` is claimed as ``pending`` and committed
   with an fsync, and ``effect.intent`` is written to the client's audit trail;
2. **perform**: the plugin's ``perform()`` runs;
3. **outcome**: what ``perform()`` did decides the row's status (committed, not fsynced)::

       returns                                  done     never again: the stored result is returned
       raises avflow.EffectFailed               failed   certainly not done: tried again freely
       raises anything else, times out, dies    unknown  see 4.

4. **reconcile**: an effect found ``unknown`` (or ``pending`` left by a dead process) is tried
   again only through ``reconcile()`` (which asks the remote system) or when it is declared
   ``idempotent``; otherwise `EffectUnknown` stops the run and the AV settles it with
   ``avflow effects resolve RUN KEY --done|--not-done`` (`EffectLedger.resolve`).

A key's scope is a column of its own (``run``: the run's key; ``workflow``: the workflow id;
``client``: empty), so no key of one scope can collide with a key of another. Nothing else in
the core reads or writes the ``effects`` and ``dry_effects`` tables.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from avflow import redact
from avflow.audit import AuditTrail
from avflow.errors import EffectFailed, EffectUnknown, StepFailed, UsageError
from avflow.ledger_tables import CLAIM, claim_row, ensure_schema, process_mark
from avflow.runtypes import EffectRecord
from avflow.state import State, utcnow_iso

SCOPES = ("run", "workflow", "client")


class FaultPoint(Protocol):
    """Called at each point of the protocol: ``("before" | "after" | "recorded", key)``.

    ``before``: the intent is durable, ``perform`` has not run; ``after``: ``perform`` returned,
    its outcome is not recorded yet; ``recorded``: the outcome is recorded. Tests inject one to
    stop a run dead at any point; production passes none.
    """

    def __call__(self, point: str, key: str) -> None: ...


@dataclass(frozen=True)
class EffectSite:
    """Where an effect is requested from: one step of one run."""

    client: str
    workflow: str
    run_id: str
    run_key: str
    step: str

    def scope_id(self, scope: str) -> str:
        if scope == "run":
            return self.run_key
        if scope == "workflow":
            return self.workflow
        if scope == "client":
            return ""
        raise ValueError(f"effect scope must be run, workflow or client, not {scope!r}")


@dataclass(frozen=True)
class Effect:
    """One effect as a plugin asks for it."""

    key: str
    description: str
    perform: Callable[[], Any]
    kind: str = ""
    reconcile: Callable[[], Any] | None = None
    idempotent: bool = False
    scope: str = "run"
    words: Mapping[str, Any] | None = None  # for the client report (`avflow.EffectWords`)


_Id = tuple[str, str, str, str]  # client, scope, scope id, key


class EffectLedger:
    """The effects tables of ``state.db`` and the protocol around them."""

    def __init__(self, state: State, audit: AuditTrail, fault: FaultPoint | None = None) -> None:
        self.state = state
        self.audit = audit
        self.fault = fault
        self._inflight: set[_Id] = set()  # effects whose perform() runs in this process now
        self._guard = threading.Lock()
        with state.tx() as db:
            ensure_schema(db)

    # -- the protocol -----------------------------------------------------------------------------
    def perform(self, site: EffectSite, effect: Effect, cancelled: threading.Event) -> Any:
        """Perform ``effect`` at most once; return its result (the stored one if already done)."""
        eid = (site.client, effect.scope, site.scope_id(effect.scope), effect.key)
        row = self._row(eid)
        status = self._status(row, eid)
        if status == "done":
            return _decode(row["result"] if row is not None else None)
        if status == "pending":
            raise _busy(effect, row)
        if status == "unknown":
            found = self._settle_unknown(site, effect, eid)
            if found is not None:
                return found
        if cancelled.is_set():
            raise StepFailed("the step was cancelled (timeout); no further effects are performed")
        self._claim(site, effect, eid)
        return self._perform(site, effect, eid)

    def _settle_unknown(self, site: EffectSite, effect: Effect, eid: _Id) -> Any:
        """An unknown effect: reconcile it, or allow a repeat if idempotent, or stop the run."""
        if effect.reconcile is not None:
            found = effect.reconcile()
            self._audit(site, effect, "effect.reconciled", found=found is not None)
            if found is not None:
                self._finish(eid, "done", result=found)
            return found
        if not effect.idempotent:
            raise EffectUnknown(
                _unknown_message(site, effect, "an earlier attempt was interrupted")
            )
        return None

    def _perform(self, site: EffectSite, effect: Effect, eid: _Id) -> Any:
        """Perform a claimed effect and record its outcome (``_claim`` marked it in flight)."""
        try:
            self._fault("before", effect.key)
            try:
                result = effect.perform()
            except EffectFailed as exc:
                self._finish(eid, "failed", error=str(exc))
                self._audit(site, effect, "effect.failed", error=redact.redact(str(exc)))
                raise
            except Exception as exc:  # not BaseException: a kill leaves the row pending, as a death
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._finish(eid, "unknown", error=error)
                self._audit(site, effect, "effect.unknown", error=redact.redact(error))
                if not (effect.reconcile or effect.idempotent):
                    raise EffectUnknown(_unknown_message(site, effect, error)) from exc
                raise
            self._fault("after", effect.key)
            self._finish(eid, "done", result=result)
            self._audit(site, effect, "effect.done")
            self._fault("recorded", effect.key)
            return result
        finally:
            with self._guard:
                self._inflight.discard(eid)

    def _claim(self, site: EffectSite, effect: Effect, eid: _Id) -> None:
        """Record the intent durably, unless another performer claimed the row meanwhile."""
        claimed = False
        try:
            with self.state.tx() as db:
                row = db.execute(_SELECT, eid).fetchone()
                if self._status(row, eid) in ("done", "pending"):  # claimed since we looked
                    raise _busy(effect, row)
                with self._guard:  # before the commit: another thread of ours sees it in flight
                    self._inflight.add(eid)
                claimed = True
                db.execute(CLAIM, claim_row(eid, site, effect))
        except BaseException:
            if claimed:
                with self._guard:
                    self._inflight.discard(eid)
            raise
        self._audit(site, effect, "effect.intent")

    def _finish(
        self, eid: _Id, status: str, *, result: Any = None, error: str | None = None
    ) -> None:
        # Not fsynced: the intent was, so an outcome lost with the machine is reconciled.
        with self.state.tx(durable=False) as db:
            _set_outcome(db, eid, status, result, error)

    def _fault(self, point: str, key: str) -> None:
        if self.fault is not None:
            self.fault(point, key)

    def _audit(self, site: EffectSite, effect: Effect, event: str, **details: Any) -> None:
        self.audit.record(
            site.client,
            event,
            workflow=site.workflow,
            run=site.run_id,
            step=site.step,
            effect=effect.key,
            description=effect.description,
            details={
                "kind": effect.kind,
                "scope": effect.scope,
                **({"words": dict(effect.words)} if effect.words else {}),
                **details,
            },
        )

    # -- reading ----------------------------------------------------------------------------------
    def _row(self, eid: _Id) -> Any:
        return self.state.db.execute(_SELECT, eid).fetchone()

    def _status(self, row: Any, eid: _Id) -> str | None:
        """The row's status as the protocol sees it: a ``pending`` row nobody performs is unknown."""
        if row is None:
            return None
        status = str(row["status"])
        if status != "pending":
            return status
        with self._guard:
            if eid in self._inflight:
                return "pending"
        owner = row["owner"]
        if owner and int(owner) != os.getpid() and _alive(int(owner), row["owner_mark"]):
            return "pending"
        return "unknown"  # its performer died (a pid now another process's is not it)

    def status(self, site: EffectSite, key: str, scope: str = "run") -> str | None:
        """``None`` (never tried), ``pending``, ``done``, ``failed`` or ``unknown``."""
        eid = (site.client, scope, site.scope_id(scope), key)
        return self._status(self._row(eid), eid)

    def of_run(self, run_id: str) -> list[EffectRecord]:
        """The effects a run performed or tried (last touched by it), then those it would have."""
        rows = self.state.db.execute(
            "SELECT * FROM effects WHERE run_id = ? ORDER BY created_at, rowid", (run_id,)
        ).fetchall()
        out = [
            EffectRecord(
                key=r["key"],
                kind=r["kind"],
                description=r["description"],
                status=self._status(r, (r["client"], r["scope"], r["scope_id"], r["key"])) or "",
                result=_decode(r["result"]),
                run_id=r["run_id"],
                step=r["step"],
                scope=r["scope"],
            )
            for r in rows
        ]
        dry = self.state.db.execute(
            "SELECT * FROM dry_effects WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        out += [
            EffectRecord(r["key"], r["kind"], r["description"], "dry-run", None, run_id, r["step"])
            for r in dry
        ]
        return out

    # -- dry runs and the AV's decisions ----------------------------------------------------------
    def record_dry(self, site: EffectSite, effect: Effect) -> None:
        """A dry run: note what would be performed; perform and reconcile are never called."""
        with self.state.tx() as db:
            seq = db.execute(
                "SELECT COUNT(*) FROM dry_effects WHERE run_id = ?", (site.run_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO dry_effects VALUES (?, ?, ?, ?, ?, ?)",
                (site.run_id, seq, site.step, effect.key, effect.kind, effect.description),
            )
        self._audit(site, effect, "effect.dry_run")

    def resolve(
        self, run_id: str, key: str, done: bool, scope: str | None = None, by: str = ""
    ) -> EffectRecord:
        """The AV's answer for an effect whose outcome is unknown: done, or certainly not done."""
        sql, args = "SELECT * FROM effects WHERE run_id = ? AND key = ?", [run_id, key]
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope)
        rows = self.state.db.execute(sql, args).fetchall()
        if not rows:
            raise UsageError(
                f"run {run_id} has no effect {key!r} (see `avflow effects show {run_id}`)"
            )
        if len(rows) > 1:
            raise UsageError(
                f"run {run_id} has effect {key!r} in several scopes: name one with --scope"
            )
        row = rows[0]
        eid: _Id = (row["client"], row["scope"], row["scope_id"], row["key"])
        with self.state.tx() as db:  # read again and answer in one transaction: no claim between
            row = db.execute(_SELECT, eid).fetchone()
            status = self._status(row, eid)
            if status == "pending":
                raise UsageError(
                    f"effect {key!r} is being performed right now; wait for its outcome"
                )
            if status == "done" and not done:
                raise UsageError(
                    f"effect {key!r} is recorded as done by avflow itself; not changed"
                )
            if status != "done":
                outcome = ("done", None) if done else ("failed", "resolved: not done")
                _set_outcome(db, eid, outcome[0], None, outcome[1])
        site = EffectSite(row["client"], "", run_id, "", row["step"])
        effect = Effect(key, row["description"], _never, row["kind"], scope=row["scope"])
        self._audit(
            site,
            effect,
            "effect.resolved",
            outcome="done" if done else "not-done",
            was=status,
            by=by,
        )
        return EffectRecord(
            key,
            row["kind"],
            row["description"],
            "done" if done else "failed",
            None,
            run_id,
            row["step"],
            row["scope"],
        )


_SELECT = "SELECT * FROM effects WHERE client = ? AND scope = ? AND scope_id = ? AND key = ?"


def _set_outcome(db: Any, eid: _Id, status: str, result: Any, error: str | None) -> None:
    db.execute(
        """UPDATE effects SET status = ?, result = ?, error = ?, owner = NULL, updated_at = ?
           WHERE client = ? AND scope = ? AND scope_id = ? AND key = ?""",
        (status, _encode(result), redact.redact(error) if error else None, utcnow_iso(), *eid),
    )


def _busy(effect: Effect, row: Any) -> StepFailed:
    owner = f" (pid {row['owner']})" if row is not None and row["owner"] else ""
    return StepFailed(
        f"effect {effect.key!r} is being performed by another attempt or process{owner}; "
        "it is not started twice"
    )


def _never() -> None:
    raise AssertionError("a resolved effect is never performed")


def _unknown_message(site: EffectSite, effect: Effect, why: str) -> str:
    return (
        f"effect {effect.key!r} ({effect.description}): outcome unknown ({why}); it is not "
        "repeated, as the action can neither check it nor repeat it safely. Check whether it "
        f"happened, then run: avflow effects resolve {site.run_id} '{effect.key}' --done "
        "(or --not-done to have it performed when the run resumes)"
    )


def _alive(pid: int, mark: str | None) -> bool:
    """Whether the process that claimed an effect (``pid``, ``mark``) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return mark is None or process_mark(pid) in (mark, None)


def _encode(result: Any) -> str | None:
    if result is None:
        return None
    try:
        return json.dumps(redact.redact(result))
    except TypeError:
        return json.dumps(repr(result))


def _decode(text: str | None) -> Any:
    return json.loads(text) if text else None
