"""How an approval's keys are written and checked: ``core.approval``'s parameters share them
(`avflow.builtin_params`), and so does a plugin's ``approval:`` parameter (`ApprovalSpec`,
public as ``avflow.ApprovalSpec``; docs/approvals.md). A module of its own, small, so that a
plugin whose parameters name `ApprovalSpec` does not import ``core.approval``'s models."""

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


class ApprovalKeys(BaseModel):
    """The keys ``core.approval`` and a plugin's ``approval:`` share, checked alike."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
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
    def _default_needs_timeout(self) -> ApprovalKeys:
        if self.default is not None and self.timeout is None:
            raise ValueError("default needs a timeout")
        return self


class ApprovalSpec(ApprovalKeys):
    """An approval a plugin's step asks for, written as one of its parameters (``approval:
    true``, or ``{summary, timeout, default}``): the keys and checks of ``core.approval``, the
    summary optional (the plugin then words it). Public as ``avflow.ApprovalSpec``; pass its
    fields to `StepContext.request_approval` (docs/approvals.md, "For plugins")."""

    summary: str | None = Field(
        default=None, min_length=1, description="What is to be decided (default: the plugin's)."
    )

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        """``approval: true`` asks with the defaults; anything but a mapping is refused."""
        if v is True:
            return {}
        if not isinstance(v, dict):
            raise ValueError("write true, or a mapping of summary, timeout and default")
        return v
