"""A network answering the post with a redirect to another host: nothing goes there, and that
host's answer is never taken for the network's. Bluesky's SDK and Mastodon.py followed it: the
post was recorded as published with the other host's permalink, and never made."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_providers import Net, net, publish  # noqa: F401

from avflow.testing import Harness


class Elsewhere:
    """127.0.0.2: answers every request as if it had made the post, and records it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        me = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _any(self) -> None:
                me.seen.append((self.command, self.path))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = (
                    b'{"id": "evil", "url": "https://evil.example/1", "uri": "at://evil",'
                    b' "cid": "evil", "link": "https://evil.example/1"}'
                )
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.2", 0), H)
        self.url = f"http://127.0.0.2:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    other = Elsewhere()
    yield other
    other.httpd.shutdown()
    other.httpd.server_close()


def test_a_redirect_to_another_host_is_not_followed(
    avflow_harness: Harness,
    net: Net,  # noqa: F811
    elsewhere: Elsewhere,
) -> None:
    h = avflow_harness
    path = net.create.split(" ", 1)[1]
    net.server.net.fail(net.create, (307, {"Location": elsewhere.url + path}))
    first = publish(h)
    assert elsewhere.seen == []
    urls = [p["url"] for p in first.outputs.get("publish", {}).get("published", [])]
    assert all("evil" not in u for u in urls), urls
    h.clock.advance(seconds=3600)
    publish(h)
    assert len(net.posts) == 1  # made once, on the network itself
