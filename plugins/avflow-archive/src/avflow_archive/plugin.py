"""Hook implementations: what the archive plugin registers with avflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import avflow
from avflow_archive import settings
from avflow_archive.items import FileVars
from avflow_archive.params import FileParams, ScanParams
from avflow_archive.words import EFFECTS

# imported when a step runs: loading the plugin (avflow validate, next) needs only its models
file_action = avflow.lazy("avflow_archive.actions:file_action")
scan_action = avflow.lazy("avflow_archive.actions:scan_action")
watch = avflow.lazy("avflow_archive.trigger:watch")
FILE_ATTRS = frozenset(n for n in dir(FileVars) if not n.startswith("_"))  # {{ file.<attr> }}
# {{ file.date.<attr> }}: file.date is a datetime
ATTRS = {"file": FILE_ATTRS, "file.date": frozenset(n for n in dir(datetime) if n[0] != "_")}


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(
        avflow.AccountType(
            "local", settings.LocalSettings, "A folder on this machine used as an archive."
        )
    )
    register(
        avflow.AccountType(
            "google_drive",
            avflow.lazy("avflow_archive.remote_settings:GoogleDriveSettings"),
            "A Google Drive folder used as an archive.",
        )
    )
    register(
        avflow.AccountType(
            "sftp",
            avflow.lazy("avflow_archive.remote_settings:SftpSettings"),
            "A folder on an SSH/SFTP server (a NAS) used as an archive.",
        )
    )
    register(
        avflow.AccountType(
            "webdav",
            avflow.lazy("avflow_archive.remote_settings:WebdavSettings"),
            "A WebDAV folder (Nextcloud, a NAS) used as an archive.",
        )
    )


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action(
            "archive.file",
            FileParams,
            file_action,
            "File documents from an earlier step or a drop folder into an archive.",
            template_vars=frozenset({"file"}),
            template_attrs=ATTRS,
            effects=EFFECTS,
        )
    )
    register(
        avflow.Action(
            "archive.scan",
            ScanParams,
            scan_action,
            "File what a drop folder holds, removing each file once it is filed.",
            template_vars=frozenset({"file"}),
            template_attrs=ATTRS,
            effects=EFFECTS,
        )
    )


@avflow.hookimpl
def register_triggers(register: Any) -> None:
    register(
        avflow.Trigger(
            "archive.new_file",
            avflow.lazy("avflow_archive.watch_params:NewFileParams"),
            watch,
            "Files have arrived (and settled) in a drop folder.",
        )
    )


@avflow.hookimpl
def register_oauth_scopes(register: Any) -> None:
    """`avflow auth google` asks for Drive access when the client has a google_drive archive."""
    register(
        avflow.OAuthScopes(
            "google", "google_drive", ("https://www.googleapis.com/auth/drive.file",)
        )
    )


@avflow.hookimpl
def register_commands(cli: Any) -> None:
    from avflow_archive.cli import archive

    cli.add_command(archive)
