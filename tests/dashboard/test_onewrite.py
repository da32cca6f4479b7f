"""The dashboard's uvicorn writes each answer's head and body in one write (dashboard/onewrite.py).

The protocol is the one `server.uvicorn_config` gives uvicorn (the service's and the bench's),
driven by uvicorn's own event loop calls on a transport that records what reaches the socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from avflow.dashboard.onewrite import HeldHead
from avflow.dashboard.server import uvicorn_config

REQUEST = b"GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Socket(asyncio.Transport):
    """What uvicorn's protocol writes, one entry per call that would be a system call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def writelines(self, chunks: Any) -> None:  # uvloop: one writev
        self.writes.append(b"".join(bytes(c) for c in chunks))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/page":
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"content-length", b"11")]})  # as Starlette's
        await send({"type": "http.response.body", "body": b"<p>page</p>"})
    elif path == "/redirect":  # no body
        start = {"type": "http.response.start", "status": 303}
        await send({**start, "headers": [(b"location", b"/"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
    else:  # streamed: the head is sent before its body is known
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})


def _answers(*paths: str) -> list[bytes]:
    """What the dashboard's uvicorn protocol writes for GETs of ``paths`` on one connection."""

    async def run() -> list[bytes]:
        config = uvicorn_config(asgi, None)
        config.load()
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=ServerState(), app_state={}
        )
        sock = Socket()
        protocol.connection_made(sock)
        for path in paths:
            sock.writes.append(b"--")
            protocol.data_received(REQUEST % path.encode())
            for _ in range(50):  # until the answer is complete (a few turns of the loop)
                await asyncio.sleep(0.002)
                if protocol.cycle is not None and protocol.cycle.response_complete:
                    break
            await asyncio.sleep(0.002)
        protocol.connection_lost(None)
        return sock.writes

    return asyncio.run(run())


def test_a_page_is_one_write_head_and_body() -> None:
    writes = _answers("page", "page")
    assert [w[:15] for w in writes] == [b"--", b"HTTP/1.1 200 OK"] * 2
    assert all(w.endswith(b"\r\n\r\n<p>page</p>") for w in writes[1::2])


def test_a_head_without_a_body_is_sent_in_its_turn() -> None:
    writes = _answers("redirect", "page")
    assert writes[0] == b"--" and writes[1].startswith(b"HTTP/1.1 303 See Other")
    assert writes[1].endswith(b"\r\n\r\n") and b"location: /\r\n" in writes[1]
    assert writes[2:] == [b"--", writes[3]] and writes[3].endswith(b"<p>page</p>")


def test_a_streamed_answer_sends_its_head_first_then_its_chunks_in_order() -> None:
    writes = _answers("stream")
    assert writes[1].startswith(b"HTTP/1.1 200 OK") and writes[1].endswith(b"\r\n\r\n")
    assert b"".join(writes[2:]) == b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"


def test_a_head_held_when_the_connection_is_lost_is_dropped_not_written() -> None:
    async def run() -> list[bytes]:
        sock = Socket()
        transport = HeldHead(sock, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        sock.close()  # lost before the body (uvloop raises on a write to a closed transport)
        await asyncio.sleep(0.002)  # the end of the turn
        transport.close()
        return sock.writes

    assert asyncio.run(run()) == []
