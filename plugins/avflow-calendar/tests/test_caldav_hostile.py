"""CalDAV servers that answer oddly: a redirect to another host (not followed: that host's
answer would be taken as the calendar's, and no credentials go there), an event that is not
iCalendar; and a URL holding the password (refused by `avflow validate`)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from calhelp import caldav_client, slots_workflow

EMPTY = b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>'


class Servers:
    """A calendar server on 127.0.0.1 that redirects every request to 127.0.0.2, where another
    server answers an empty calendar and records what it was sent."""

    def __init__(self) -> None:
        self.elsewhere: list[tuple[str, str | None]] = []
        me = self

        class Other(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _any(self) -> None:
                me.elsewhere.append((self.command, self.headers.get("Authorization")))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(207)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(EMPTY)))
                self.end_headers()
                self.wfile.write(EMPTY)

            do_GET = do_PUT = do_REPORT = do_PROPFIND = do_DELETE = _any

        class Moved(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", me.other + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_REPORT = do_PROPFIND = do_DELETE = _any

        self.servers = [ThreadingHTTPServer(("127.0.0.2", 0), Other)]
        self.servers.append(ThreadingHTTPServer(("127.0.0.1", 0), Moved))
        self.other = f"http://127.0.0.2:{self.servers[0].server_address[1]}"
        self.url = f"http://127.0.0.1:{self.servers[1].server_address[1]}/cal/"
        for s in self.servers:
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


@pytest.fixture
def moved() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    servers.stop()


def test_a_redirect_to_another_host_is_refused(avflow_harness: Any, moved: Servers) -> None:
    h = avflow_harness
    caldav_client(h, "acme", "Europe/Rome", {"cal": moved.url})
    h.clock.set("2026-03-09T08:00:00+00:00")
    result = h.run(slots_workflow(h, "acme", account="cal", duration_minutes=30))
    # before: the other host's empty answer was the calendar's, every slot free
    assert result.status == "failed", result.outputs
    assert "redirected to another host (http://127.0.0.2:" in result.error
    assert moved.elsewhere == []


def test_a_url_holding_a_password_is_refused_at_its_line(tmp_path: Path) -> None:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(
        "name: Acme\naccounts:\n"
        "  cal: { type: caldav, url: 'https://anna:hunter22@dav.example/cal/', username: anna }\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "avflow"), "--workflows", str(client.parent),
         "--home", str(tmp_path / "h"), "validate"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout
    assert "client.yaml:3:" in done.stderr and "must not hold a user name or password" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
