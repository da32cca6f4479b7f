"""uvicorn's HTTP protocol with each answer's head and body written together.

uvicorn writes an answer's status line and headers to the socket as soon as the application
starts the answer, then its body in a second write: two TCP segments, and the browser (or any
client) is often woken for the head alone, then again for the body (bench/dashboard.py over
HTTP: 1.5 reads an answer; a freshly rendered approvals inbox waited about 0.1-0.4 ms more).
`OneWriteProtocol` holds the head back until the body's first write and sends both in one
(``writelines``: one system call); a head that no body follows in the same turn of the event
loop (an empty body, a streamed answer, ``100 Continue``) is sent at the end of that turn, and
before the connection is closed (dropped if the connection was lost meanwhile). Nothing else
changes: same bytes, same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD = b"HTTP/1.1 "  # how uvicorn's head of an answer begins (a status line)


class HeldHead:
    """A transport that sends a head (a write starting with `HEAD`) with the write after it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines([held, data])
        elif data[: len(HEAD)] == HEAD:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        self.flush()
        self._transport.writelines(chunks)

    def flush(self) -> None:
        """Send a head held back (no body came after it in its turn of the event loop)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():  # a connection lost meanwhile: nothing to send
                self._transport.write(held)

    def is_closing(self) -> bool:  # asked after every answer: not through __getattr__
        return self._transport.is_closing()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through `HeldHead`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))  # flow control: the real one
        self.transport = cast(asyncio.Transport, HeldHead(self.transport, self.loop))
