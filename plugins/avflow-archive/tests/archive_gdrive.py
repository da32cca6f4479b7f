"""A local stand-in for the Google Drive v3 API, for the real google-api-python-client.

It serves HTTPS on 127.0.0.1 (a certificate made for the test, trusted through the account's
``ca_certs``) and implements what the archive uses: ``files.list`` with a query, ``files.create``
(metadata only, for folders, and multipart upload), ``files.get`` (metadata and ``alt=media``)
and the OAuth token endpoint for refreshes. Every request is checked (bearer token, multipart
structure, the query language subset) and logged; failures are scripted: a status with headers
(401, 429 with Retry-After, 500), or a delay longer than the client's timeout.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import hashlib
import ipaddress
import itertools
import json
import re
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FOLDER = "application/vnd.google-apps.folder"


@dataclass
class Failure:
    """A scripted answer for the next request of one kind (list, create, upload, get, token)."""

    kind: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # sleep this long first (longer than the client's timeout: a timeout)
    perform: bool = False  # with a delay: still do the work (the answer is what gets lost)


@dataclass
class Logged:
    method: str
    kind: str
    path: str
    query: dict[str, str]
    status: int = 0
    metadata: dict[str, Any] | None = None
    media_type: str | None = None


def _cert(base: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = base / "drive.crt", base / "drive.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


_CLAUSES = [
    (re.compile(r"^name = '((?:[^'\\]|\\.)*)'$"), "name"),
    (re.compile(r"^'((?:[^'\\]|\\.)*)' in parents$"), "parent"),
    (re.compile(r"^mimeType = '((?:[^'\\]|\\.)*)'$"), "mime"),
    (re.compile(r"^trashed = (true|false)$"), "trashed"),
    (
        re.compile(
            r"^appProperties has \{ key='((?:[^'\\]|\\.)*)' and value='((?:[^'\\]|\\.)*)' \}$"
        ),
        "prop",
    ),
]


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def parse_query(q: str) -> list[tuple[str, tuple[str, ...]]]:
    """The subset of Drive's query language the archive uses; anything else is a 400."""
    parts = re.split(r" and (?![^{]*\})", q)
    out = []
    for part in parts:
        for rx, kind in _CLAUSES:
            m = rx.match(part.strip())
            if m:
                out.append((kind, tuple(_unquote(g) for g in m.groups())))
                break
        else:
            raise ValueError(f"unsupported query clause: {part!r}")
    return out


class FakeDrive:
    """The server's state, failures to come, and the log of requests."""

    def __init__(self, base: Path) -> None:
        self.cert, self.key = _cert(base)
        self.files: dict[str, dict[str, Any]] = {}
        self.failures: list[Failure] = []
        self.log: list[Logged] = []
        self.problems: list[str] = []  # requests that a real Drive would refuse
        self.tokens = {"good-token"}
        self.refresh_tokens = {"good-refresh": "refreshed-token"}
        self.client = ("client-id", "client-secret")
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.root_id = self.add_folder("Archivio", parent="root")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.server.block_on_close = False  # answers delayed past the client's timeout
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/drive/v3/"

    @property
    def token_uri(self) -> str:
        return f"https://127.0.0.1:{self.port}/token"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- state ------------------------------------------------------------------------------------
    def _new(
        self,
        name: str,
        mime: str,
        parent: str,
        content: bytes | None = None,
        props: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        fid = f"f{next(self._ids):05d}"
        f: dict[str, Any] = {
            "id": fid,
            "name": name,
            "mimeType": mime,
            "parents": [parent],
            "trashed": False,
            "appProperties": dict(props or {}),
            "createdTime": f"{time.time():.6f}",
        }
        if content is not None:
            f["content"] = content
            f["size"] = str(len(content))
            f["md5Checksum"] = hashlib.md5(content).hexdigest()
            f["sha256Checksum"] = hashlib.sha256(content).hexdigest()
        self.files[fid] = f
        return f

    def add_folder(self, name: str, parent: str) -> str:
        return str(self._new(name, FOLDER, parent)["id"])

    def add_file(self, name: str, parent: str, content: bytes, checksums: bool = True) -> str:
        f = self._new(name, "application/pdf", parent, content)
        if not checksums:  # as a file uploaded long ago may look: no sha256Checksum
            f.pop("sha256Checksum")
        return str(f["id"])

    def path_of(self, fid: str) -> str:
        parts = []
        f = self.files[fid]
        while f["id"] != self.root_id:
            parts.append(f["name"])
            f = self.files[f["parents"][0]]
        return "/".join(reversed(parts))

    def tree(self) -> dict[str, bytes]:
        """Every file (not folder) under the archive root, by path."""
        with self.lock:
            return {
                self.path_of(f["id"]): f["content"]
                for f in self.files.values()
                if f["mimeType"] != FOLDER and not f["trashed"] and f["id"] != self.root_id
            }

    def kinds(self) -> list[str]:
        return [e.kind for e in self.log]

    def query(self, q: str) -> list[dict[str, Any]]:
        clauses = parse_query(q)
        out = []
        for f in sorted(self.files.values(), key=lambda f: f["createdTime"]):
            ok = True
            for kind, args in clauses:
                if kind == "name":
                    ok &= f["name"] == args[0]
                elif kind == "parent":
                    ok &= args[0] in f["parents"]
                elif kind == "mime":
                    ok &= f["mimeType"] == args[0]
                elif kind == "trashed":
                    ok &= f["trashed"] == (args[0] == "true")
                elif kind == "prop":
                    ok &= f["appProperties"].get(args[0]) == args[1]
            if ok:
                out.append(f)
        return out

    def next_failure(self, kind: str) -> Failure | None:
        with self.lock:
            for i, fail in enumerate(self.failures):
                if fail.kind == kind:
                    return self.failures.pop(i)
        return None


def _public(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if k not in ("content", "trashed", "createdTime")}


def _handler(drive: FakeDrive) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(
            self,
            status: int,
            body: Any,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
        ) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type",
                "application/octet-stream" if raw is not None else "application/json",
            )
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            reason = {401: "authError", 429: "rateLimitExceeded", 500: "backendError"}.get(
                status, "error"
            )
            self._send(
                status,
                {
                    "error": {
                        "code": status,
                        "message": message,
                        "errors": [{"reason": reason, "message": message}],
                    }
                },
                headers,
            )

        def _read(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            body = self._read()
            if url.path == "/token" and method == "POST":
                kind = "token"
            elif url.path == "/upload/drive/v3/files" and method == "POST":
                kind = "upload"
            elif url.path == "/drive/v3/files" and method == "POST":
                kind = "create"
            elif url.path == "/drive/v3/files" and method == "GET":
                kind = "list"
            elif url.path.startswith("/drive/v3/files/") and method == "GET":
                kind = "media" if query.get("alt") == "media" else "get"
            else:
                drive.problems.append(f"unexpected {method} {url.path}")
                return self._error(404, "no such endpoint")
            entry = Logged(method, kind, url.path, query)
            drive.log.append(entry)
            if kind != "token":
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in drive.tokens:
                    entry.status = 401
                    return self._error(
                        401,
                        "Request had invalid authentication credentials.",
                        {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                    )
            fail = drive.next_failure(kind)
            if fail is not None and not fail.perform:
                if fail.delay:
                    time.sleep(fail.delay)
                entry.status = fail.status
                return self._error(fail.status, "scripted failure", fail.headers)
            try:
                status, payload, raw = getattr(self, f"_{kind}")(query, body, entry, url.path)
            except ValueError as exc:
                drive.problems.append(f"{kind}: {exc}")
                entry.status = 400
                return self._error(400, str(exc))
            if fail is not None:  # performed, but the answer comes too late
                time.sleep(fail.delay)
            entry.status = status
            self._send(status, payload, raw=raw)

        # -- endpoints ----------------------------------------------------------------------------
        def _token(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if form.get("grant_type") != "refresh_token":
                raise ValueError(f"grant_type {form.get('grant_type')!r}")
            if (form.get("client_id"), form.get("client_secret")) != drive.client:
                return 401, {"error": "invalid_client"}, None
            new = drive.refresh_tokens.get(form.get("refresh_token", ""))
            if new is None:
                return (
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    None,
                )
            drive.tokens.add(new)
            return 200, {"access_token": new, "expires_in": 3599, "token_type": "Bearer"}, None

        def _list(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            if "q" not in query:
                raise ValueError("list without q")
            with drive.lock:
                found = [_public(f) for f in drive.query(query["q"])]
            size = int(query.get("pageSize", "100"))
            start = int(query.get("pageToken", "0"))
            page: dict[str, Any] = {"files": found[start : start + size]}
            if start + size < len(found):
                page["nextPageToken"] = str(start + size)
            return 200, page, None

        def _create(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            meta = json.loads(body)
            entry.metadata = meta
            if meta.get("mimeType") != FOLDER:
                raise ValueError("a create without content must be a folder")
            parents = meta.get("parents") or []
            with drive.lock:
                if len(parents) != 1 or parents[0] not in drive.files:
                    raise ValueError(f"bad parents {parents}")
                f = drive._new(meta["name"], FOLDER, parents[0])
            return 200, _public(f), None

        def _upload(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            if query.get("uploadType") != "multipart":
                raise ValueError(f"uploadType {query.get('uploadType')!r}")
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("multipart/related"):
                raise ValueError(f"content type {ctype!r}")
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
            )
            parts = list(msg.iter_parts())
            if len(parts) != 2 or parts[0].get_content_type() != "application/json":
                raise ValueError("multipart upload must be metadata (JSON) then media")
            meta = json.loads(parts[0].get_payload(decode=True))
            media = parts[1].get_payload(decode=True)
            entry.metadata, entry.media_type = meta, parts[1].get_content_type()
            parents = meta.get("parents") or []
            with drive.lock:
                if len(parents) != 1 or parents[0] not in drive.files:
                    raise ValueError(f"bad parents {parents}")
                f = drive._new(
                    meta["name"], entry.media_type, parents[0], media, meta.get("appProperties")
                )
            return 200, _public(f), None

        def _get(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            f = drive.files.get(path.rsplit("/", 1)[1])
            if f is None:
                return 404, {"error": {"code": 404, "message": "File not found"}}, None
            return 200, _public(f), None

        def _media(self, query: dict[str, str], body: bytes, entry: Logged, path: str) -> Any:
            f = drive.files.get(path.rsplit("/", 1)[1])
            if f is None or "content" not in f:
                return 404, {"error": {"code": 404, "message": "File not found"}}, None
            return 200, None, f["content"]

    return Handler
