"""The parameters of ``core.fail`` and ``core.approval``: registered by `avflow.lazy`
(`avflow.builtin`), so their models are built when a workflow uses one of them, not by every
command that loads the plugins."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from avflow.approval_spec import DAYS, ApprovalKeys, working_days

__all__ = ["DAYS", "ApprovalParams", "FailParams", "working_days"]


class FailParams(BaseModel):
    """``core.fail``: fail the run with a message (after a check, for instance)."""

    model_config = ConfigDict(extra="forbid")
    message: str


class ApprovalParams(ApprovalKeys):
    """``core.approval``: wait for a person's decision before the following steps run."""

    summary: str = Field(
        min_length=1, description="What is to be decided; a template (docs/approvals.md)."
    )
