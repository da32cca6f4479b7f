"""The HTTP side of bench/dashboard.py: uvicorn serving the dashboard in a process of its own
(as the service does; a browser is another process), and the client that reads its answers.

    .venv/bin/python bench/dashboard_http.py WORK SECRETS kept|fresh|bare   (started by bench/dashboard.py)

serves the dashboard of the home and workflows that bench/dashboard.py made in WORK, on a
loopback port it prints, until killed: keeping pages (kept), or rendering each anew (fresh).
``bare``: the floor of the HTTP side instead, uvicorn as the dashboard is served
(`server.uvicorn_config`) with an ASGI application of a few lines answering every GET with fixed
bytes (`bare_app`): what uvicorn, the loopback hop and the client cost with no web framework,
no session and no page.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/ holds scripts named like standard modules (calendar.py): never import from it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def log_in(get: Callable[[str], Any], post: Callable[[str, dict[str, str]], Any]) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', get("/login").text)
    assert csrf is not None
    done = post("/login", {"token": "bench-token", "csrf": csrf.group(1)})
    assert done.status_code == 303, done.text


def register_secrets(count: int) -> None:
    """``count`` secret values known to the process, as a service knows its clients' vaults: each
    page is masked for them (none appear in the pages)."""
    from avflow import redact

    for i in range(count):
        redact.register(f"bench-secret-{i:04d}-Vq7x")


def serve(work: Path, secrets: int, keep_pages: bool) -> None:
    """The dashboard of ``work`` on a loopback port, in this process (the service's side of the
    HTTP measurement), keeping pages or not; prints the port, then serves until killed."""
    import uvicorn

    from avflow.app import App
    from avflow.dashboard import views
    from avflow.dashboard.server import listening_socket, uvicorn_config
    from avflow.dashboard.web import create_app
    from avflow.plugins import PluginManager

    app = App(work / "workflows", work / "home", PluginManager(autoload=False))
    asgi = create_app(views.AppSource(app), "bench-token", keep_pages=keep_pages)
    register_secrets(secrets)
    sock = listening_socket("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn_config(asgi, None)).run(sockets=[sock])


BARE_SIZES = {"/": 2, "/large": 30_000}  # bytes: a tiny answer, and one as large as the inbox


def bare_app() -> Any:
    """An ASGI application answering each path of `BARE_SIZES` with that many fixed bytes (text),
    as Starlette would send them (a content type and a length), and nothing else."""
    bodies = {path: b"x" * size for path, size in BARE_SIZES.items()}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = bodies.get(scope["path"], b"")
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"text/html; charset=utf-8"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def serve_bare() -> None:
    """`bare_app` on a loopback port, as the dashboard is served; prints the port, then serves
    until killed."""
    import uvicorn

    from avflow.dashboard.server import listening_socket, uvicorn_config

    sock = listening_socket("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn_config(bare_app(), None)).run(sockets=[sock])


def cpu_of(pid: int) -> Callable[[], float] | None:
    """The CPU time process ``pid`` has had so far, in seconds, read from Linux's
    /proc/PID/task/*/schedstat (nanoseconds on a CPU, each thread); None elsewhere."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return None

    def total() -> float:
        ns = 0
        for task in tasks.iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a thread gone meanwhile
                ns += int((task / "schedstat").read_text().split()[0])
        return ns / 1e9

    return total


class _Answer:
    """An HTTP answer as httptools' parser hands it over (the callbacks it calls)."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


def over_http(
    _asgi: Any, work: Path, secrets: int, keep_pages: bool
) -> tuple[Callable[[str], Any], Callable[[], None], Callable[[], float] | None]:
    """GET from uvicorn in a process of its own (as in the service; a browser is another
    process), over one keep-alive connection: the request written whole, the answer read by
    httptools' parser in C (as a browser's HTTP stack is native code; the standard library's
    http.client parses each answer's headers with the email package, about 0.2 ms a page here,
    which is the bench's cost, not the dashboard's)."""
    import httpx

    child, port = _start(work, secrets, "kept" if keep_pages else "fresh")
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    for _ in range(100):  # until uvicorn listens (the socket is bound before it starts)
        try:
            log_in(web.get, lambda path, data: web.post(path, data=data))
            break
        except httpx.TransportError:
            time.sleep(0.1)
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    return _client(child, port, cookie)


def bare_http(
    work: Path,
) -> tuple[Callable[[str], Any], Callable[[], None], Callable[[], float] | None]:
    """GET from `bare_app` served by uvicorn in a process of its own, with the same client as
    `over_http` (the same request, its cookie header included)."""
    child, port = _start(work, 0, "bare")
    return _client(child, port, "avflow_session=" + "x" * 160)


def _start(work: Path, secrets: int, kind: str) -> tuple[Any, int]:
    """This script serving ``kind`` in a process of its own, and its port."""
    import subprocess

    child = subprocess.Popen(
        [sys.executable, __file__, str(work), str(secrets), kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def _client(
    child: Any, port: int, cookie: str
) -> tuple[Callable[[str], Any], Callable[[], None], Callable[[], float] | None]:
    """GET over one keep-alive connection to ``port``, the answer read by httptools' parser;
    stopping kills ``child``, the server."""
    import socket
    import types

    import httptools

    for _ in range(100):  # until uvicorn listens (the socket is bound before it starts)
        try:
            conn = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.1)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = f"HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n"

    def get(path: str) -> Any:
        conn.sendall(f"GET {path} {headers}".encode())
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.done:
            data = conn.recv(1 << 18)
            if not data:
                raise ConnectionError(f"{path}: the server closed the connection")
            parser.feed_data(data)
        body = b"".join(answer.body).decode()
        return types.SimpleNamespace(status_code=parser.get_status_code(), text=body)

    def stop() -> None:
        conn.close()
        child.kill()
        child.wait()

    return get, stop, cpu_of(child.pid)


if __name__ == "__main__":
    if sys.argv[3] == "bare":
        serve_bare()
    else:
        serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "kept")
