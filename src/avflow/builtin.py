"""The actions the core itself offers, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from avflow.api import Action, StepContext
from avflow.errors import StepFailed
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


@hookimpl
def register_actions(register: Any) -> None:
    register(Action("core.log", LogParams, _log, "Write a message to the log and the audit trail."))
    register(Action("core.set", SetParams, _set, "Expose computed values as step outputs."))
    register(Action("core.fail", FailParams, _fail, "Fail the run with a message."))
