"""The actions the core itself offers, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from avflow.api import Action, StepContext
from avflow.errors import StepFailed
from avflow.lazyref import lazy
from avflow.pluginmarker import hookimpl

if TYPE_CHECKING:
    from avflow.builtin_params import ApprovalParams, FailParams

# core.fail's and core.approval's parameters: their models are built when a workflow uses them
_RARE = "avflow.builtin_params"


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


def _fail(ctx: StepContext, params: FailParams) -> None:
    raise StepFailed(params.message)


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
    register(
        Action("core.fail", lazy(f"{_RARE}:FailParams"), _fail, "Fail the run with a message.")
    )
    register(
        Action(
            "core.approval",
            lazy(f"{_RARE}:ApprovalParams"),
            _approval,
            "Wait for a person to approve or reject before the following steps run.",
        )
    )
