"""The settings of the remote archives (``google_drive``, ``sftp``, ``webdav``): registered by
reference (`avflow.lazy`), so this module is imported only when a profile declares such an
account, a backend is built or `avflow schema` lists the account types."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from avflow_archive.settings import ArchiveSettings


class GoogleDriveSettings(ArchiveSettings):
    """``type: google_drive``: a folder in Google Drive, reached with OAuth user credentials."""

    folder_id: str = Field(description="ID of the Drive folder that is the archive's root.")
    token: str | None = Field(default=None, description="An OAuth access token (a secret).")
    refresh_token: str | None = Field(
        default=None, description="An OAuth refresh token (a secret)."
    )
    client_id: str | None = None
    client_secret: str | None = None
    token_uri: str | None = Field(
        default=None, description="OAuth token endpoint; Google's by default."
    )
    api_endpoint: str | None = Field(
        default=None, description="Drive API root; Google's by default."
    )
    ca_certs: str | None = Field(
        default=None, description="PEM file of extra certificate authorities to trust."
    )
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=5, ge=0, le=20)
    max_retry_after: float = Field(
        default=120.0, ge=0, description="Longest Retry-After honoured, seconds."
    )

    @model_validator(mode="after")
    def _credentials(self) -> GoogleDriveSettings:
        if not self.token and not self.refresh_token:
            raise ValueError("google_drive needs 'token' or 'refresh_token' (use ${secret:NAME})")
        if self.refresh_token and not (self.client_id and self.client_secret):
            raise ValueError("google_drive: 'refresh_token' needs 'client_id' and 'client_secret'")
        return self


class SftpSettings(ArchiveSettings):
    """``type: sftp``: a folder on an SSH server (a NAS), through fsspec and paramiko."""

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    password: str | None = Field(default=None, description="A secret, or use private_key.")
    private_key: str | None = Field(default=None, description="An OpenSSH private key (a secret).")
    host_key: str | None = Field(
        default=None,
        description="The server's public key line ('ssh-ed25519 AAAA...') or its SHA256: "
        "fingerprint. Without it the key must be in ~/.ssh/known_hosts.",
    )
    path: str = Field(description="The archive's root folder on the server (absolute).")
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("sftp path must be absolute (start with /)")
        return v.rstrip("/") or "/"

    @model_validator(mode="after")
    def _auth(self) -> SftpSettings:
        if not self.password and not self.private_key:
            raise ValueError("sftp needs 'password' or 'private_key' (use ${secret:NAME})")
        return self


class WebdavSettings(ArchiveSettings):
    """``type: webdav``: a WebDAV folder (Nextcloud, ownCloud, a NAS), through webdav4."""

    url: str = Field(
        description="The WebDAV base URL, e.g. https://cloud.example/remote.php/dav/files/me"
    )
    username: str | None = None
    password: str | None = Field(default=None, description="A secret (an app password).")
    path: str = Field(default="/", description="The archive's root folder under the URL.")
    timeout: float = Field(default=30.0, gt=0)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("webdav url must start with https:// (or http://)")
        return v.rstrip("/")
