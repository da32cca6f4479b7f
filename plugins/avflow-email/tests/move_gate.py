"""A TCP proxy in front of Dovecot that freezes each connection right after its first ``UID MOVE``.

Lets a crash test kill avflow with moves known to be half done, whatever the machine's speed:
each connection's first ``UID MOVE`` reaches the server, everything the connection sends after
it is dropped, so avflow waits for answers that never come. `release` lets later connections
(a resume) through untouched.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class MoveGate:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.holding = True
        self.frozen = 0  # connections that sent a UID MOVE and are frozen since
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="move-gate", daemon=True).start()

    def release(self) -> None:
        self.holding = False

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream))
            gated = self.holding
            for src, dst, commands in ((client, server, gated), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, commands), name="move-gate", daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, commands: bool) -> None:
        frozen = False
        try:
            while data := src.recv(65536):
                if frozen:
                    continue  # never reaches the server
                dst.sendall(data)
                if commands and b" UID MOVE " in data.upper():
                    frozen = True
                    with self._lock:
                        self.frozen += 1
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
