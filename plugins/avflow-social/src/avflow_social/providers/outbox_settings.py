"""The settings of ``type: social_outbox``, apart from the provider: `avflow validate` checks the
demo's channels without importing the provider classes."""

from typing import Annotated

from pydantic import Field

import avflow
from avflow_social.channel import ChannelSettings


class OutboxSettings(ChannelSettings):
    folder: Annotated[str, avflow.LocalPath()] = Field(
        description="Folder the posts are written to (relative: inside the client's folder)."
    )
    max_chars: int | None = Field(default=None, ge=1, description="Hold back longer texts.")
