"""Archive backends: where filed documents are written (see `base.Store`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avflow import StepFailed
from avflow_archive.backends.base import Placement, Store, file_into, find_existing
from avflow_archive.settings import GoogleDriveSettings, LocalSettings, SftpSettings, WebdavSettings


def open_store(account: Any, *, dry_run: bool = False, base: Path | None = None) -> Store:
    """Connect to the archive of a resolved `avflow.Account`.

    A relative local path is read from ``base`` (the client's workflows folder).
    """
    s = account.settings
    if isinstance(s, LocalSettings):
        from avflow_archive.backends.local import LocalStore

        root = Path(s.path).expanduser()
        if not root.is_absolute() and base is not None:
            root = base / root
        if s.create and not root.exists():
            if dry_run:  # a dry run writes nothing: an archive still to create is an empty one
                return LocalStore(root, s.retention_years)
            root.mkdir(parents=True)
        if not root.is_dir():
            raise StepFailed(f"archive {account.name!r}: folder {root} does not exist")
        return LocalStore(root, s.retention_years)
    if isinstance(s, GoogleDriveSettings):
        from avflow_archive.backends.gdrive import open_drive

        return open_drive(s)
    if isinstance(s, SftpSettings):
        from avflow_archive.backends.remote import open_sftp

        return open_sftp(s)
    if isinstance(s, WebdavSettings):
        from avflow_archive.backends.remote import open_webdav

        return open_webdav(s)
    raise StepFailed(f"account {account.name!r} ({account.type}) is not an archive account")


__all__ = ["Placement", "Store", "file_into", "find_existing", "open_store"]
