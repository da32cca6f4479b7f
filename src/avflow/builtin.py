"""The actions the core itself offers, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from avflow.api import Action, StepContext
from avflow.errors import StepFailed
from avflow.models import parse_duration
from avflow.pluginmarker import hookimpl


class LogParams(BaseModel):
    """``core.log``: write a message to the log and the client's audit trail."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(
        description="The message; a template that sees client, workflow, run, steps."
    )


def _log(ctx: StepContext, params: LogParams) -> dict[str, Any]:
    ctx.note(params.message)
    return {"message": params.message}


class SetParams(BaseModel):
    """``core.set``: compute values once and expose them as this step's outputs."""

    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = Field(description="Outputs of the step: templates are rendered first.")


def _set(ctx: StepContext, params: SetParams) -> Mapping[str, Any]:
    return params.values


class FailParams(BaseModel):
    """``core.fail``: fail the run with a message (after a check, for instance)."""

    model_config = ConfigDict(extra="forbid")
    message: str


def _fail(ctx: StepContext, params: FailParams) -> None:
    raise StepFailed(params.message)


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


def _approval(ctx: StepContext, params: ApprovalParams) -> dict[str, Any]:
    from avflow.approval_flow import approved_outputs

    approval = ctx.request_approval(
        params.summary, timeout=params.timeout, default=params.default, key="approval"
    )
    return approved_outputs(approval)


@hookimpl
def register_actions(register: Any) -> None:
    register(Action("core.log", LogParams, _log, "Write a message to the log and the audit trail."))
    register(Action("core.set", SetParams, _set, "Expose computed values as step outputs."))
    register(Action("core.fail", FailParams, _fail, "Fail the run with a message."))
    register(
        Action(
            "core.approval",
            ApprovalParams,
            _approval,
            "Wait for a person to approve or reject before the following steps run.",
        )
    )
