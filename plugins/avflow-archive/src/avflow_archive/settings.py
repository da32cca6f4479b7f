"""The archive account types a client profile may declare, and the ``local`` settings (those of
``google_drive``, ``sftp`` and ``webdav`` are in `avflow_archive.remote_settings`, imported when a
profile declares such an account)."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

import avflow

ACCOUNT_TYPES = ("local", "google_drive", "sftp", "webdav")


class ArchiveSettings(BaseModel):
    """Settings every archive account shares."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    retention_years: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Years a filed document is kept: avflow never deletes or overwrites it "
        "(local archives also make it read-only). 0: no retention rule.",
    )
    quarantine: str = Field(
        default="_quarantine",
        description="Folder inside the archive for files whose destination would leave it.",
    )

    @field_validator("quarantine")
    @classmethod
    def _quarantine(cls, v: str) -> str:
        from avflow_archive.sanitize import archive_path

        checked = archive_path(v)
        if checked.path is None:
            raise ValueError(f"quarantine must be a folder inside the archive: {checked.reason}")
        return str(checked.path)


class LocalSettings(ArchiveSettings):
    """``type: local``: a folder on this machine (or a mounted share)."""

    path: Annotated[str, avflow.LocalPath()] = Field(
        description="The archive's root folder: in the client's folder (a relative path is read "
        "from there) or in a root granted to the client (docs/security.md)."
    )
    create: bool = Field(default=False, description="Create the root folder if it is missing.")


REMOTE = ("GoogleDriveSettings", "SftpSettings", "WebdavSettings")


def __getattr__(name: str) -> Any:
    """The remote archives' settings live in `avflow_archive.remote_settings`, imported when a
    profile declares such an account; ``from avflow_archive.settings import SftpSettings`` still
    works."""
    if name in REMOTE:
        from avflow_archive import remote_settings

        return getattr(remote_settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
