"""The parameters of ``social.publish``, apart from the action itself: loading the plugin
(``avflow validate``, ``next``) needs only these, not the publishing code and its store."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

import avflow


class PublishParams(BaseModel):
    """Parameters of ``social.publish``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    calendar: Annotated[str, avflow.LocalPath()] = Field(
        default="posts", description="The content calendar: a folder inside the client's folder."
    )
    when: Literal["always", "working_hours"] = Field(
        default="always",
        description="working_hours: posts go out only in the client's working hours (holidays and "
        "closed days excluded); one due outside them goes out when the client next opens.",
    )
    channels: list[str] | None = Field(
        default=None, description="Only these channels (default: every channel posts name)."
    )
    approval: avflow.ApprovalSpec | None = Field(
        default=None,
        description="Ask a person before a pass publishes: true, or {summary, timeout, default} "
        "as for core.approval (docs/social.md).",
    )
