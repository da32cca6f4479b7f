"""The ``with:`` parameters of ``archive.file``, ``archive.scan`` and ``archive.new_file``."""

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

import avflow
from avflow_archive.items import FileItem
from avflow_archive.rules import Rule
from avflow_archive.settings import ACCOUNT_TYPES

ArchiveAccount = Annotated[str, avflow.AccountRef(*ACCOUNT_TYPES)]
LocalFolder = Annotated[str, avflow.LocalPath()]  # confined to the client (docs/security.md)
DEFAULT_PATH = "{{ file.year }}/{{ file.name }}"


class FilingParams(BaseModel):
    """What every filing step shares: where to, and by which rules."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    account: ArchiveAccount = Field(
        description="The client's archive account (local, google_drive, sftp, webdav)."
    )
    path: str | None = Field(
        default=DEFAULT_PATH,
        description="Destination template, relative to the archive's root; sees `file` "
        "(name, ext, type, sender, sender_domain, subject, date, year, month, day, ...). "
        "null: files that no rule matches are not filed.",
    )
    rules: list[Rule] = Field(
        default_factory=lambda: [], description="First match wins; see docs/archive.md."
    )
    index_text: bool = Field(
        default=True,
        description="Put each document's text (PDF or plain text) in the search index. "
        "false: text is read only when a rule asks for it, and search finds names, senders "
        "and subjects.",
    )


class DropFolderParams(BaseModel):
    """Reading a drop folder (a scanner's output folder)."""

    model_config = ConfigDict(defer_build=True)

    folder: LocalFolder = Field(
        description="The drop folder: in the client's folder (a relative path is read from "
        "there) or in a root granted to the client (absolute; ~ is expanded)."
    )
    settle: float = Field(
        default=5.0, ge=0, description="Seconds a file must stay unchanged before it is taken."
    )
    recursive: bool = Field(default=True, description="Also take files in sub-folders.")
    include: list[str] = Field(
        default_factory=lambda: ["*"], description="Glob(s) of file names to take."
    )
    max_files: int = Field(
        default=1000, ge=1, description="At most this many files per run; the rest wait."
    )


class FileParams(FilingParams):
    """``archive.file``: file documents from an earlier step, or from a drop folder."""

    files: list[FileItem] | None = Field(
        default=None, description="Files from an earlier step: a list of items (docs/archive.md)."
    )
    folder: LocalFolder | None = Field(
        default=None, description="Or: a drop folder to file (see archive.scan)."
    )
    settle: float = Field(default=5.0, ge=0)
    recursive: bool = True
    include: list[str] = Field(default_factory=lambda: ["*"])
    max_files: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.files is None) == (self.folder is None):
            raise ValueError(
                "give either 'files' (from an earlier step) or 'folder' (a drop folder)"
            )
        return self

    def drop(self) -> DropFolderParams | None:
        if self.folder is None:
            return None
        return DropFolderParams(
            folder=self.folder,
            settle=self.settle,
            recursive=self.recursive,
            include=self.include,
            max_files=self.max_files,
        )


class ScanParams(FilingParams, DropFolderParams):
    """``archive.scan``: file what a drop folder holds (run it on a schedule or on archive.new_file)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    def drop(self) -> DropFolderParams:
        return DropFolderParams(
            folder=self.folder,
            settle=self.settle,
            recursive=self.recursive,
            include=self.include,
            max_files=self.max_files,
        )


def __getattr__(name: str) -> Any:
    """``from avflow_archive.params import NewFileParams`` still works (it is in
    `avflow_archive.watch_params`, registered by reference)."""
    if name == "NewFileParams":
        from avflow_archive.watch_params import NewFileParams

        return NewFileParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
