"""A private Radicale (CalDAV) server on a free loopback port, and a proxy that counts requests
and can hold a response (for crash tests): helpers for the tests and the benchmark."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Radicale:
    """``python -m radicale`` with its own storage folder; any user name and password log in."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--config",
                "",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--auth-type",
                "none",
                "--rights-type",
                "owner_only",
                "--storage-filesystem-folder",
                str(root / "collections"),
                "--logging-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(root / "radicale.log", "wb"),  # noqa: SIM115
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((root / "radicale.log").read_text()) from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_calendar(self, user: str = "av") -> str:
        """A new, empty calendar collection; its URL."""
        url = f"/{user}/{uuid.uuid4().hex}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>t'
            "</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        status = request(self.port, "MKCALENDAR", url, body.encode(), user)[0]
        assert status == 201, status
        return self.url + url

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    user: str = "av",
    depth: str | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    import base64

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    auth = base64.b64encode(f"{user}:x".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    if depth is not None:
        headers["Depth"] = depth
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def event_uids(port: int, collection_path: str) -> list[str]:
    """UIDs of every event resource in a collection (one per resource): a calendar-query."""
    import re

    body = (
        b'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
        b'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
        b"</C:comp-filter></C:filter></C:calendar-query>"
    )
    status, data = request(port, "REPORT", collection_path, body, depth="1")
    assert status == 207, (status, data[:500])
    return re.findall(r"UID:([^\r\n&]+)", data.decode())


class Proxy:
    """Forwards HTTP to a server, counting requests; ``hold_put`` keeps each PUT's response back
    (after the server has acted on it) until `release`: the client cannot know the outcome."""

    def __init__(self, target_port: int, hold_put: bool = False) -> None:
        self.target = target_port
        self.hold_put = hold_put
        self.requests: list[str] = []
        self.put_done = threading.Event()
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.requests.append(self.command)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if self.command == "PUT" and proxy.hold_put:
                    proxy.put_done.set()
                    proxy.released.wait(120)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_REPORT = do_PROPFIND = do_DELETE = do_OPTIONS = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
