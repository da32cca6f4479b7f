"""An approval as stored (`Approval`) and the words of its status, shared by the step API
(`avflow.api`), the errors (`avflow.errors`) and the approval functions (`avflow.approvals`).

It imports nothing of avflow, so each of them can import it without an import circle
(docs/architecture.md). `avflow.Approval` and `avflow.approvals.Approval` are this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["pending", "approved", "rejected", "expired"]
Choice = Literal["approve", "reject"]


@dataclass(frozen=True)
class Approval:
    """One approval a run asked for, as stored.

    ``preview``: plain descriptions of the effects the following steps would perform (from a dry
    run when the approval was asked for). ``default``: what happens when ``deadline`` passes
    (None: it stays pending and the AV is told). ``status`` ``expired``: the default was taken.
    """

    id: str
    client: str
    workflow: str
    run_id: str
    step: str
    summary: str
    preview: list[str]
    created_at: datetime
    deadline: datetime | None
    default: Choice | None
    status: Status
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None

    @property
    def outcome(self) -> Choice | None:
        """``approve`` or ``reject`` once decided (an expired one took its default), else None."""
        if self.status == "approved":
            return "approve"
        if self.status == "rejected":
            return "reject"
        if self.status == "expired":
            return self.default
        return None

    @property
    def approved(self) -> bool:
        return self.outcome == "approve"
