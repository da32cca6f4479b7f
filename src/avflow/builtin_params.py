"""The parameters of ``core.fail`` and ``core.approval``: registered by `avflow.lazy`
(`avflow.builtin`), so their models are built when a workflow uses one of them, not by every
command that loads the plugins."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from avflow.models import parse_duration


class FailParams(BaseModel):
    """``core.fail``: fail the run with a message (after a check, for instance)."""

    model_config = ConfigDict(extra="forbid")
    message: str


class ApprovalParams(BaseModel):
    """``core.approval``: wait for a person's decision before the following steps run."""

    model_config = ConfigDict(extra="forbid")
    summary: str = Field(
        min_length=1, description="What is to be decided; a template (docs/approvals.md)."
    )
    timeout: float | None = Field(
        default=None, description="Working time to wait (30m, 2h, 1d: client's working hours)."
    )
    default: Literal["approve", "reject"] | None = Field(
        default=None, description="Taken when the timeout passes; none: it keeps waiting."
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)

    @model_validator(mode="after")
    def _default_needs_timeout(self) -> ApprovalParams:
        if self.default is not None and self.timeout is None:
            raise ValueError("default needs a timeout")
        return self
