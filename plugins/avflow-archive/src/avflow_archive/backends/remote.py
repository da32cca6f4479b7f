"""``type: sftp`` and ``type: webdav``: archives on a NAS or a Nextcloud, through fsspec.

Both upload to a hidden temporary name beside the destination, then publish it with a rename
that refuses to replace an existing file: SFTP's standard RENAME (OpenSSH implements it with
``link()``, so an existing name fails) and WebDAV's MOVE with ``Overwrite: F`` (412 if taken).
Over SFTP the upload is also flushed to disk with OpenSSH's ``fsync@openssh.com`` extension.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import posixpath
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import paramiko

from avflow import StepFailed
from avflow_archive.backends.base import ABSENT, CHUNK, Absent, Existing, Store, partial_name
from avflow_archive.remote_settings import SftpSettings, WebdavSettings
from avflow_archive.source import Source, SourceChanged


class FsspecStore(Store):
    """An archive root on any fsspec filesystem whose paths are POSIX-like."""

    def __init__(self, fs: Any, root: str, label: str, retention_years: int = 0) -> None:
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        self.label = label
        self.retention_years = retention_years

    def _full(self, rel: PurePosixPath) -> str:
        return posixpath.join(self.root, *rel.parts)

    def inside(self, rel: PurePosixPath) -> bool:
        # rel is already clean (no "..", not absolute); remote symlinks are the server's concern
        full = posixpath.normpath(self._full(rel))
        return full == self.root or full.startswith(self.root.rstrip("/") + "/")

    def stat(self, rel: PurePosixPath) -> Existing | Absent:
        try:
            info = self.fs.info(self._full(rel))
        except FileNotFoundError:
            return ABSENT
        if info.get("type") == "directory":
            return Existing(None, is_dir=True)
        size = info.get("size")
        return Existing(int(size) if size is not None else None)

    def read_chunks(self, rel: PurePosixPath) -> Iterator[bytes]:
        with self.fs.open(self._full(rel), "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def _makedirs(self, folder: str) -> None:
        if not self.fs.exists(folder):
            self.fs.makedirs(folder, exist_ok=True)
        elif not self.fs.isdir(folder):
            raise FileExistsError(folder)

    def discard_partial(self, rel: PurePosixPath, token: str) -> None:
        tmp = posixpath.join(posixpath.dirname(self._full(rel)), partial_name(token))
        try:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
        except FileNotFoundError:
            pass


class SftpStore(FsspecStore):
    """An SFTP folder (fsspec's paramiko filesystem)."""

    _real_root: str | None = None

    def _realpath(self, path: str) -> str:
        """The server's resolution of ``path``'s deepest existing ancestor (symlinks followed)."""
        while True:
            try:
                return str(self.fs.ftp.normalize(path))
            except OSError:
                parent = posixpath.dirname(path)
                if parent == path:
                    return path
                path = parent

    def inside(self, rel: PurePosixPath) -> bool:
        # a symbolic link on the server (a NAS share linked elsewhere) must not lead out
        if self._real_root is None:
            self._real_root = self._realpath(self.root)
        real = self._realpath(self._full(rel))
        root = self._real_root
        return real == root or real.startswith(root.rstrip("/") + "/")

    def put(self, rel: PurePosixPath, source: Source, sha256: str, token: str, mime: str) -> None:
        full = self._full(rel)
        folder = posixpath.dirname(full)
        self._makedirs(folder)
        tmp = posixpath.join(folder, partial_name(token))
        ftp: paramiko.SFTPClient = self.fs.ftp
        with ftp.open(tmp, "wb") as remote, source.reader() as local:
            remote.set_pipelined(True)
            while chunk := local.read(CHUNK):
                remote.write(chunk)
            remote.flush()
            _sftp_fsync(ftp, remote)
        if source.changed():
            self.fs.rm_file(tmp)
            raise SourceChanged("the file changed while it was being copied")
        if self.retention_years:
            ftp.chmod(tmp, 0o444)
        try:
            ftp.rename(tmp, full)  # standard SFTP rename: fails if `full` exists
        except OSError:
            exists = self.fs.exists(full)
            self.fs.rm_file(tmp)
            if exists:
                raise FileExistsError(str(rel)) from None
            raise

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection is not an error
            self.fs.ftp.close()
            self.fs.client.close()


def _sftp_fsync(ftp: paramiko.SFTPClient, remote: paramiko.SFTPFile) -> None:
    """Ask an OpenSSH server to fsync the file (extension fsync@openssh.com), if it can."""
    from paramiko.sftp import CMD_EXTENDED

    # paramiko has no public call for an extension request: `_request` is its private one, so
    # pyproject.toml pins paramiko below 6 and tests/test_sftp.py fails the day it changes.
    # A server without the extension answers an error: the rename still publishes a whole file.
    with contextlib.suppress(OSError):
        ftp._request(CMD_EXTENDED, "fsync@openssh.com", remote.handle)


class WebdavStore(FsspecStore):
    """A WebDAV folder (webdav4's fsspec filesystem).

    webdav4 reads ``%`` in a path as an escape and cannot send ``#`` or ``?``, and some servers
    (wsgidav among them) decode a MOVE's Destination before parsing it, so that ``;`` starts URL
    parameters and cuts the name. WebDAV names therefore avoid those four characters.
    """

    _UNSAFE = str.maketrans({c: "_" for c in ";#%?"})

    def adapt(self, rel: PurePosixPath) -> PurePosixPath:
        return PurePosixPath(*(part.translate(self._UNSAFE) for part in rel.parts))

    def put(self, rel: PurePosixPath, source: Source, sha256: str, token: str, mime: str) -> None:
        from webdav4.client import ResourceAlreadyExists

        full = self._full(rel)
        folder = posixpath.dirname(full)
        self._makedirs(folder)
        tmp = posixpath.join(folder, partial_name(token))
        client = self.fs.client
        with source.reader() as f:
            client.upload_fileobj(f, tmp, overwrite=True, size=source.size)
        if source.changed():
            client.remove(tmp)
            raise SourceChanged("the file changed while it was being copied")
        try:
            client.move(tmp, full, overwrite=False)
        except ResourceAlreadyExists:
            client.remove(tmp)
            raise FileExistsError(str(rel)) from None
        if not client.exists(full):
            raise StepFailed(f"webdav: the server did not store {rel} under that name")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.fs.client.http.close()


class _ExpectedHostKey(paramiko.MissingHostKeyPolicy):
    """Accept the server only if its key is the one configured (or in ~/.ssh/known_hosts)."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        fingerprint = "SHA256:" + base64.b64encode(
            hashlib.sha256(key.asbytes()).digest()
        ).decode().rstrip("=")
        line = f"{key.get_name()} {key.get_base64()}"
        if self.expected is not None:
            want = self.expected.strip()
            if want.rstrip("=") == fingerprint or " ".join(want.split()[:2]) == line:
                return
            raise StepFailed(
                f"sftp {hostname}: the server's host key {fingerprint} is not the configured host_key"
            )
        known = paramiko.HostKeys()
        with contextlib.suppress(OSError):  # no known_hosts file: nothing is known
            known.load(str(Path("~/.ssh/known_hosts").expanduser()))
        if known.check(hostname, key):
            return
        raise StepFailed(
            f'sftp {hostname}: unknown host key {fingerprint}; add `host_key: "{line}"` to the account'
        )


def _private_key(text: str) -> paramiko.PKey:
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise StepFailed("sftp: private_key is not an OpenSSH private key this client can read")


def open_sftp(s: SftpSettings) -> SftpStore:
    kwargs: dict[str, Any] = dict(
        port=s.port,
        username=s.username,
        timeout=s.timeout,
        banner_timeout=s.timeout,
        auth_timeout=s.timeout,
        look_for_keys=False,
        allow_agent=False,
        host_key_policy=_ExpectedHostKey(s.host_key),
        skip_instance_cache=True,
    )
    if s.password:
        kwargs["password"] = s.password
    if s.private_key:
        kwargs["pkey"] = _private_key(s.private_key)
    host = f"[{s.host}]:{s.port}" if s.port != 22 else s.host
    try:
        fs = fsspec.filesystem("sftp", host=s.host, **kwargs)
    except StepFailed:
        raise
    except paramiko.AuthenticationException:
        raise StepFailed(f"sftp {host}: the server refused the user name or credentials") from None
    except (OSError, paramiko.SSHException) as exc:
        raise StepFailed(f"sftp {host}: cannot connect: {exc or type(exc).__name__}") from None
    if not fs.isdir(s.path):
        fs.client.close()
        raise StepFailed(f"sftp {host}: archive folder {s.path} does not exist")
    return SftpStore(fs, s.path, f"sftp:{s.username}@{host}{s.path}", s.retention_years)


def open_webdav(s: WebdavSettings) -> WebdavStore:
    from webdav4.fsspec import WebdavFileSystem

    auth = (s.username, s.password or "") if s.username else None
    fs = WebdavFileSystem(
        s.url,
        auth=auth,
        timeout=s.timeout,
        verify=s.verify_tls,
        retry=False,
        skip_instance_cache=True,
    )
    root = "/" + s.path.strip("/")
    try:
        ok = fs.isdir(root)
    except Exception as exc:
        raise StepFailed(
            f"webdav {s.url}: cannot list the archive folder: {_webdav_error(exc)}"
        ) from None
    if not ok:
        raise StepFailed(f"webdav {s.url}: archive folder {root} does not exist")
    return WebdavStore(fs, root, f"webdav:{s.url}{root}", s.retention_years)


def _webdav_error(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return f"the server refused the credentials ({status})"
    return str(exc) or type(exc).__name__
