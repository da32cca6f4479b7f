"""`ChannelSettings`: what every channel's settings have (a provider's settings model extends it).

Kept apart from `avflow_social.provider` (its dataclasses and errors): `avflow validate` checks a
channel's settings without importing the provider classes.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
            try:
                datetime.strptime(start.strip(), "%H:%M")
                datetime.strptime(end.strip(), "%H:%M")
            except ValueError:
                raise ValueError(f"{spec!r} is not a window HH:MM-HH:MM") from None
        return value
