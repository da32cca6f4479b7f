"""``type: google_drive``: an archive that is a Google Drive folder (google-api-python-client).

Drive has no paths: folders are found by name under their parent (``files.list`` with a query)
and created when missing; a document is uploaded with ``files.create`` (multipart upload, one
request, so it appears whole or not at all). Each upload carries the content's SHA-256 and the
effect's token in ``appProperties``, so after a timeout the upload is looked up before it is
tried again, and identical content is recognised without downloading it.

Drive allows two files with the same name in a folder; avflow does not create them: a
different file already using the name gets a numbered name, as in every other archive.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Any

from avflow import StepFailed
from avflow_archive.backends.base import ABSENT, Absent, Existing, Store
from avflow_archive.remote_settings import GoogleDriveSettings
from avflow_archive.source import Source

FOLDER = "application/vnd.google-apps.folder"
SCOPES = ["https://www.googleapis.com/auth/drive.file"]
FILE_FIELDS = "id,name,mimeType,size,sha256Checksum,md5Checksum,appProperties"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _q(value: str) -> str:
    """Quote a string for a Drive query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class DriveStore(Store):
    """A Google Drive folder as an archive root."""

    def __init__(
        self, service: Any, s: GoogleDriveSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.service = service
        self.s = s
        self.label = f"google_drive:{s.folder_id}"
        self.retention_years = s.retention_years
        self.sleep = sleep
        self.waits: list[float] = []  # the delays slept between attempts (for the run's log)
        self._folders: dict[tuple[str, ...], str] = {(): s.folder_id}

    # -- requests ---------------------------------------------------------------------------------
    def _call(
        self, what: str, request: Callable[[], Any], landed: Callable[[], Any] | None = None
    ) -> Any:
        """Execute a request; retry 429/5xx (honouring Retry-After) and timeouts.

        ``landed`` is asked, before each retry, whether a write whose answer was lost was in
        fact done: then its result is returned instead of writing twice.
        """
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        for attempt in range(self.s.retries + 1):
            try:
                return request().execute()
            except HttpError as exc:
                status = int(exc.resp.status)
                if status in (401, 403) and not _rate_limited(exc):
                    raise StepFailed(
                        f"Google Drive refused the credentials while trying to {what} (HTTP {status})"
                    ) from None
                if status == 404:
                    raise StepFailed(
                        f"Google Drive: {what}: not found (is folder_id right, and shared with this account?)"
                    ) from None
                if (
                    status not in RETRY_STATUS and not _rate_limited(exc)
                ) or attempt == self.s.retries:
                    raise StepFailed(
                        f"Google Drive: {what} failed: HTTP {status} {_reason(exc)}"
                    ) from None
                delay = _retry_after(exc.resp)
                if delay is not None and delay > self.s.max_retry_after:
                    raise StepFailed(
                        f"Google Drive: {what}: asked to wait {delay:g}s (more than max_retry_after)"
                    ) from None
                self._wait(delay if delay is not None else _backoff(attempt))
            except RefreshError as exc:
                raise StepFailed(
                    f"Google Drive: the access token expired and cannot be refreshed ({_first_line(exc)})"
                ) from None
            except (TimeoutError, ConnectionError, TransportError, OSError) as exc:
                if attempt == self.s.retries:
                    raise StepFailed(
                        f"Google Drive: {what}: no answer after {attempt + 1} attempts ({type(exc).__name__})"
                    ) from None
                self._wait(_backoff(attempt))
            if landed is not None:
                found = landed()
                if found is not None:
                    return found
        raise AssertionError("unreachable")

    def _wait(self, delay: float) -> None:
        self.waits.append(delay)
        self.sleep(delay)

    def _list(self, q: str, fields: str = FILE_FIELDS) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = dict(
                q=q,
                fields=f"nextPageToken,files({fields})",
                pageSize=100,
                orderBy="createdTime",
                spaces="drive",
            )
            if token:
                kwargs["pageToken"] = token
            page = self._call("list files", functools.partial(self.service.files().list, **kwargs))
            files += page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return files

    # -- folders ----------------------------------------------------------------------------------
    def _folder(self, parts: tuple[str, ...], create: bool) -> str | None:
        if parts in self._folders:
            return self._folders[parts]
        parent = self._folder(parts[:-1], create)
        if parent is None:
            return None
        name = parts[-1]
        q = f"name = {_q(name)} and {_q(parent)} in parents and mimeType = {_q(FOLDER)} and trashed = false"
        found = self._list(q, "id,name")
        if found:
            self._folders[parts] = found[0]["id"]
            return self._folders[parts]
        if not create:
            return None
        body = {"name": name, "mimeType": FOLDER, "parents": [parent]}
        created = self._call(
            f"create folder {'/'.join(parts)}",
            lambda: self.service.files().create(body=body, fields="id"),
            landed=lambda: _first(self._list(q, "id,name")),
        )
        self._folders[parts] = created["id"]
        return self._folders[parts]

    def _named(self, rel: PurePosixPath) -> tuple[str | None, list[dict[str, Any]]]:
        parent = self._folder(rel.parent.parts if str(rel.parent) != "." else (), create=False)
        if parent is None:
            return None, []
        q = f"name = {_q(rel.name)} and {_q(parent)} in parents and trashed = false"
        return parent, self._list(q)

    # -- Store ------------------------------------------------------------------------------------
    def inside(self, rel: PurePosixPath) -> bool:
        return True  # Drive has no path resolution: a clean relative path is always inside

    def stat(self, rel: PurePosixPath) -> Existing | Absent:
        _, files = self._named(rel)
        if not files:
            return ABSENT
        f = files[0]
        if f.get("mimeType") == FOLDER:
            return Existing(None, is_dir=True)
        return Existing(int(f["size"]) if "size" in f else None, _sha(f))

    def same_content(self, rel: PurePosixPath, sha256: str, size: int) -> bool | None:
        _, files = self._named(rel)
        if not files:
            return None
        for f in files:
            if f.get("mimeType") == FOLDER:
                continue
            known = _sha(f)
            if known is not None:
                if known == sha256:
                    return True
            elif int(f.get("size", -1)) == size and _digest(self._download(f["id"])) == sha256:
                return True
        return False

    def _download(self, file_id: str) -> Iterator[bytes]:
        data = self._call("download a file", lambda: self.service.files().get_media(fileId=file_id))
        yield bytes(data)

    def read_chunks(self, rel: PurePosixPath) -> Iterator[bytes]:
        _, files = self._named(rel)
        if not files:
            raise FileNotFoundError(str(rel))
        yield from self._download(files[0]["id"])

    def _by_token(self, token: str) -> dict[str, Any] | None:
        q = f"appProperties has {{ key='avflow_token' and value={_q(token[:40])} }} and trashed = false"
        found = self._list(q)
        return found[0] if found else None

    def put(self, rel: PurePosixPath, source: Source, sha256: str, token: str, mime: str) -> None:
        from googleapiclient.http import MediaIoBaseUpload

        if self._by_token(token) is not None:
            return  # an earlier attempt of this very effect landed
        parts = rel.parent.parts if str(rel.parent) != "." else ()
        parent = self._folder(parts, create=True)
        body: dict[str, Any] = {
            "name": rel.name,
            "parents": [parent],
            "appProperties": {"avflow_sha256": sha256, "avflow_token": token[:40]},
        }
        if self.retention_years:
            body["contentRestrictions"] = [
                {"readOnly": True, "reason": f"retention: {self.retention_years} years"}
            ]
        created = self._call(
            f"upload {rel}",
            lambda: self.service.files().create(
                body=body,
                fields=FILE_FIELDS,
                media_body=MediaIoBaseUpload(source.reader(), mimetype=mime, resumable=False),
            ),
            landed=lambda: self._by_token(token),
        )
        if "size" in created and int(created["size"]) != source.size:
            raise StepFailed(
                f"Google Drive: {rel} arrived with {created['size']} bytes instead of {source.size}"
            )
        md5 = created.get("md5Checksum")
        if (
            md5
            and md5
            != hashlib.file_digest(
                source.reader(), lambda: hashlib.md5(usedforsecurity=False)
            ).hexdigest()
        ):
            raise StepFailed(f"Google Drive: {rel} arrived damaged (MD5 differs)")


def _first(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    return files[0] if files else None


def _sha(f: dict[str, Any]) -> str | None:
    value = f.get("sha256Checksum") or (f.get("appProperties") or {}).get("avflow_sha256")
    return str(value) if value else None


def _digest(chunks: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 30))


def _retry_after(resp: Any) -> float | None:
    value = resp.get("retry-after") if hasattr(resp, "get") else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _reason(exc: Any) -> str:
    """The error's message as Google sent it: `HttpError.reason`, which the client library
    sets when the error is made (never its private ``_get_reason``)."""
    return str(getattr(exc, "reason", "") or "").strip()[:200]


def _rate_limited(exc: Any) -> bool:
    return int(exc.resp.status) == 403 and "ratelimit" in _reason(exc).lower().replace(" ", "")


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def open_drive(s: GoogleDriveSettings) -> DriveStore:
    import google_auth_httplib2
    import httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    kwargs: dict[str, Any] = {}
    if s.token_uri:
        kwargs["token_uri"] = s.token_uri
    elif s.refresh_token:
        kwargs["token_uri"] = "https://oauth2.googleapis.com/token"
    creds = Credentials(
        token=s.token,
        refresh_token=s.refresh_token,
        client_id=s.client_id,
        client_secret=s.client_secret,
        scopes=SCOPES,
        **kwargs,
    )
    http = google_auth_httplib2.AuthorizedHttp(
        creds, http=httplib2.Http(timeout=s.timeout, ca_certs=s.ca_certs)
    )
    options = {"api_endpoint": s.api_endpoint} if s.api_endpoint else None
    service = build(
        "drive",
        "v3",
        http=http,
        cache_discovery=False,
        static_discovery=True,
        client_options=options,
    )
    return DriveStore(service, s)
