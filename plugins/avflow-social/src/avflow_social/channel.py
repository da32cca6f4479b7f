"""`ChannelSettings`: what every channel's settings have (a provider's settings model extends it).

Kept apart from `avflow_social.provider` (its dataclasses and errors): `avflow validate` checks a
channel's settings without importing the provider classes.
"""

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# what datetime.strptime(text, "%H:%M") accepts (its own patterns for %H and %M, the whole
# text), without importing _strptime and building its locale tables at each `avflow validate`
HH_MM = re.compile(r"(2[0-3]|[0-1]\d|\d):([0-5]\d|\d)")


class ChannelSettings(BaseModel):
    """Settings every channel (an account of a provider's type) has; providers extend them."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    quiet: list[str] = Field(
        default_factory=lambda: [],
        description='Local times when nothing is published here, e.g. ["21:00-08:00"].',
    )
    daily_limit: int | None = Field(
        default=None,
        ge=1,
        description="At most this many posts a day (the provider's own limit otherwise).",
    )
    min_gap: int = Field(
        default=30,
        ge=0,
        description="Minutes two posts on this channel should be apart (a queue warning).",
    )

    @field_validator("quiet")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for spec in value:
            start, _, end = spec.partition("-")
            if not (HH_MM.fullmatch(start.strip()) and HH_MM.fullmatch(end.strip())):
                raise ValueError(f"{spec!r} is not a window HH:MM-HH:MM")
        return value
