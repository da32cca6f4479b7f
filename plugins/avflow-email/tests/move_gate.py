"""A TCP proxy in front of Dovecot that controls when each connection's ``UID MOVE`` reaches it.

Makes the tests of parallel moves independent of the machine's speed:

- ``freeze=True``: each connection's first ``UID MOVE`` reaches the server and everything the
  connection sends after it is dropped, so avflow waits for answers that never come (a crash test
  kills it there, with moves known to be half done). `release` lets later connections (a resume)
  through untouched.
- ``together=N``: each connection's first ``UID MOVE`` is held until N connections have sent one
  (or ``wait`` seconds passed), then all go on. The moves are side by side exactly when `met`.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class MoveGate:
    def __init__(
        self, upstream_port: int, *, freeze: bool = False, together: int = 0, wait: float = 20
    ) -> None:
        self._upstream = upstream_port
        self._freeze, self._together, self._wait = freeze, together, wait
        self._arrived = threading.Condition()
        self.moving = 0  # connections that sent a UID MOVE
        self._late = False  # a held MOVE went on alone after `wait` seconds
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.holding = True
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

    def _arrive(self) -> None:
        with self._arrived:
            self.moving += 1
            self._arrived.notify_all()
            if not self._arrived.wait_for(lambda: self.moving >= self._together, self._wait):
                self._late = True

    @property
    def met(self) -> bool:
        """``together`` connections had their first ``UID MOVE`` on the way at the same time."""
        return self.moving >= self._together and not self._late

    def _pump(self, src: socket.socket, dst: socket.socket, commands: bool) -> None:
        moved = frozen = False
        try:
            while data := src.recv(65536):
                if frozen:
                    continue  # never reaches the server
                if commands and not moved and b" UID MOVE " in data.upper():
                    moved, frozen = True, self._freeze
                    self._arrive()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class HoldingGate:
    """A proxy that holds back each connection's first ``UID MOVE`` until `let_go`, and keeps the
    connection to the server open after the client is gone (killed): the server then carries the
    move out with nobody listening, as a server still busy with a killed client's command does.
    Connections made after `release` pass untouched.
    """

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._lock = threading.Lock()
        self.held: list[tuple[socket.socket, bytes]] = []
        self._kept: list[socket.socket] = []
        self.holding = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="holding-gate", daemon=True).start()

    @property
    def moving(self) -> int:
        with self._lock:
            return len(self.held)

    def release(self) -> None:
        self.holding = False

    def let_go(self) -> None:
        """Send the held ``UID MOVE`` commands on to the server."""
        with self._lock:
            for server, data in self.held:
                server.sendall(data)

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for s in self._kept:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream))
            if not self.holding:
                for src, dst in ((client, server), (server, client)):
                    threading.Thread(target=_plain, args=(src, dst), daemon=True).start()
                continue
            with self._lock:
                self._kept.append(server)
            threading.Thread(target=self._commands, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    def _commands(self, client: socket.socket, server: socket.socket) -> None:
        held = False
        with suppress(OSError):
            while data := client.recv(65536):
                if held:
                    continue
                if b" UID MOVE " in data.upper():
                    held = True
                    with self._lock:
                        self.held.append((server, data))
                    continue
                server.sendall(data)
        # The client is gone: the connection to the server stays open (see `close`).

    @staticmethod
    def _answers(server: socket.socket, client: socket.socket) -> None:
        alive = True
        with suppress(OSError):
            while data := server.recv(65536):
                if alive:
                    try:
                        client.sendall(data)
                    except OSError:
                        alive = False  # keep reading: the server must never block on us


def _plain(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
