"""The ``with:`` of the ``archive.new_file`` trigger: registered by reference (`avflow.lazy`),
built when a workflow uses the trigger or a watch starts."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from avflow_archive.params import DropFolderParams


class NewFileParams(DropFolderParams):
    """``archive.new_file``: fire when files arrive in a drop folder and have settled."""

    model_config = ConfigDict(extra="forbid")

    poll: float = Field(
        default=1.0, gt=0, le=60, description="How often to re-check files still settling, seconds."
    )
