"""The parameters of ``core.fail`` and ``core.approval``: registered by `avflow.lazy`
(`avflow.builtin`), so their models are built when a workflow uses one of them, not by every
command that loads the plugins."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from avflow.models import parse_duration

DAYS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*d\s*")  # an approval's timeout in days: working days


def working_days(timeout: object) -> int | None:
    """The number of working days an approval's timeout written in days (``2d``) counts, else
    None (seconds, ``4h``: working time). A ValueError for a part of a day (``1.5d``)."""
    match = DAYS.fullmatch(timeout) if isinstance(timeout, str) else None
    if match is None:
        return None
    days = float(match.group(1))
    if days != int(days):
        raise ValueError(
            f"{match.group(0).strip()!r}: a timeout in days counts whole working days; "
            "write hours for a part of one (12h)"
        )
    return int(days)


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
    timeout: float | str | None = Field(
        default=None,
        description="Working time to wait (30m, 2h: client's working hours; 2d: working days).",
    )
    default: Literal["approve", "reject"] | None = Field(
        default=None, description="Taken when the timeout passes; none: it keeps waiting."
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> float | str | None:
        """Checked here (`avflow validate`), kept as written: days count working days."""
        if v is None:
            return None
        seconds = parse_duration(v)
        return v.strip() if working_days(v) is not None else seconds

    @model_validator(mode="after")
    def _default_needs_timeout(self) -> ApprovalParams:
        if self.default is not None and self.timeout is None:
            raise ValueError("default needs a timeout")
        return self
