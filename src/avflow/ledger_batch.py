"""Many effects, one durable intent commit: `EffectBatch` (docs/architecture.md, "Batches").

The single path (`EffectLedger.perform`) commits each effect's intent with an fsync before its
``perform()`` runs. A batch is planned with the keys a step expects to perform, in order; the
first time one of them is performed, the intents of up to ``chunk`` planned effects from it on
are claimed in one fsynced transaction. Each effect is then performed, and its outcome recorded,
exactly as on the single path. For every effect the protocol is unchanged:

- its intent is durable before its ``perform()`` runs;
- its outcome is recorded right after, before the next effect starts;
- a row found ``done``, ``pending`` or ``unknown`` is never claimed by a batch: performing it
  takes the single path (stored result, busy, or reconcile).

The one difference: an intent may be durable *before* its turn, or for an effect the step then
does not perform. When the batch closes, such rows are released (put back as they were, or
removed if they were new). If the process dies first, they are left ``pending`` under a dead
owner, which the next attempt reads as ``unknown`` and reconciles, like any interrupted effect:
``reconcile()`` finds nothing and the effect is performed once. ``chunk`` bounds how many
effects a crash can leave to reconcile.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from avflow.errors import StepFailed
from avflow.ledger import _SELECT, Effect, EffectLedger, EffectSite, _Id
from avflow.ledger_tables import CLAIM, claim_row

_RELEASE_NEW = """DELETE FROM effects WHERE client = ? AND scope = ? AND scope_id = ? AND key = ?
                    AND status = 'pending' AND owner = ?"""
_RELEASE_OLD = """UPDATE effects SET status = ?, run_id = ?, step = ?, error = ?, owner = NULL,
                    updated_at = ? WHERE client = ? AND scope = ? AND scope_id = ? AND key = ?
                    AND status = 'pending' AND owner = ?"""


class EffectBatch:
    """The effects one step plans to perform, their intents committed ``chunk`` at a time."""

    def __init__(
        self,
        ledger: EffectLedger,
        site: EffectSite,
        plan: Iterable[Effect],
        cancelled: threading.Event,
        chunk: int = 100,
    ) -> None:
        if chunk < 1:
            raise ValueError("an effect batch's chunk must be at least 1")
        self.ledger, self.site, self.cancelled, self.chunk = ledger, site, cancelled, chunk
        self._plan: list[tuple[_Id, Effect]] = []
        self._index: dict[_Id, int] = {}
        for effect in plan:
            eid = (site.client, effect.scope, site.scope_id(effect.scope), effect.key)
            if eid not in self._index:
                self._index[eid] = len(self._plan)
                self._plan.append((eid, effect))
        self._claimed: dict[_Id, Any] = {}  # claimed, not yet performed -> the row it replaced
        self._next = 0  # the plan is claimed up to here

    def perform(self, effect: Effect) -> Any:
        """Perform ``effect`` at most once, as `EffectLedger.perform` does."""
        ledger, site = self.ledger, self.site
        eid = (site.client, effect.scope, site.scope_id(effect.scope), effect.key)
        at = self._index.get(eid)
        if eid not in self._claimed and at is not None and at >= self._next:
            if self.cancelled.is_set():
                raise StepFailed(
                    "the step was cancelled (timeout); no further effects are performed"
                )
            self._claim(at)
        if eid not in self._claimed:
            return ledger.perform(site, effect, self.cancelled)
        if self.cancelled.is_set():  # left claimed: released when the batch closes
            raise StepFailed("the step was cancelled (timeout); no further effects are performed")
        del self._claimed[eid]
        ledger._audit(site, effect, "effect.intent")
        return ledger._perform(site, effect, eid)

    def _claim(self, start: int) -> None:
        """Claim the planned effects from ``start`` on (up to ``chunk``) in one durable commit."""
        ledger, added = self.ledger, []
        try:
            with ledger.state.tx() as db:
                for eid, planned in self._plan[start : start + self.chunk]:
                    row = db.execute(_SELECT, eid).fetchone()
                    if eid in self._claimed or ledger._status(row, eid) not in (None, "failed"):
                        continue  # done, pending or unknown: the single path handles it
                    with ledger._guard:  # before the commit: our other threads see it in flight
                        ledger._inflight.add(eid)
                    added.append(eid)
                    db.execute(CLAIM, claim_row(eid, self.site, planned))
                    self._claimed[eid] = None if row is None else dict(row)
        except BaseException:
            for eid in added:
                self._claimed.pop(eid, None)
            self._forget(added)
            raise
        self._next = start + self.chunk

    def close(self) -> None:
        """Release the intents claimed and not performed (one commit, not fsynced: a release
        lost with the machine leaves rows that are reconciled, which is safe)."""
        claimed, self._claimed = self._claimed, {}
        if not claimed:
            return
        pid = os.getpid()
        try:
            with self.ledger.state.tx(durable=False) as db:
                for eid, old in claimed.items():
                    if old is None:
                        db.execute(_RELEASE_NEW, (*eid, pid))
                    else:
                        was = (old["status"], old["run_id"], old["step"], old["error"])
                        db.execute(_RELEASE_OLD, (*was, old["updated_at"], *eid, pid))
        finally:
            self._forget(list(claimed))

    def _forget(self, eids: list[_Id]) -> None:
        with self.ledger._guard:
            for eid in eids:
                self.ledger._inflight.discard(eid)
