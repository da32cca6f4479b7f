"""avflow-sample: the smallest real plugin, installed through the ``avflow`` entry point."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

import avflow


class ShoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def shout(ctx: avflow.StepContext, params: ShoutParams) -> dict[str, Any]:
    return {"text": params.text.upper() + "!"}


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(avflow.Action("sample.shout", ShoutParams, shout, "Upper-case a text."))
