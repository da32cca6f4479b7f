"""Archive backends: where filed documents are written (see `base.Store`)."""

from __future__ import annotations

from typing import Any

import avflow
from avflow import ClientInfo, StepFailed
from avflow_archive.backends.base import Placement, Store, file_into, find_existing
from avflow_archive.remote_settings import GoogleDriveSettings, SftpSettings, WebdavSettings
from avflow_archive.settings import LocalSettings


def open_store(account: Any, *, client: ClientInfo, dry_run: bool = False) -> Store:
    """Connect to the archive of a resolved `avflow.Account` of ``client``.

    A local archive's root is confined to the client (`avflow.confine`: its folder and granted
    roots; a relative path is read from its folder), checked again as it is opened.
    """
    s = account.settings
    if isinstance(s, LocalSettings):
        from avflow_archive.backends.local import LocalStore

        root = avflow.confine(client, s.path)
        if s.create and not root.exists() and dry_run:
            return LocalStore(root, s.retention_years)  # a dry run writes nothing
        if not s.create and not root.is_dir():
            raise StepFailed(f"archive {account.name!r}: folder {root} does not exist")
        return LocalStore(
            avflow.confined_folder(client, s.path, create=s.create), s.retention_years
        )
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
