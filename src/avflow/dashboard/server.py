"""Serving the dashboard from inside ``avflow run``: uvicorn on a thread of the service process.

`serving` is the one call the service's command makes. Before the service starts it checks the
settings (another address than loopback needs TLS: one line and exit 2 otherwise), binds the
port (a port in use is one line and exit 2), makes the login token on the first start and prints
it once; then it serves until the service stops.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import structlog

from avflow import redact
from avflow.errors import UsageError
from avflow.scheduler.settings import DashboardSettings, is_loopback

log = structlog.get_logger("avflow.dashboard")
KEEP_ALIVE = 30  # seconds an idle HTTP connection is kept (the live parts poll every 3-5 s)
URL_KEY = "dashboard_url"  # where the service notes its dashboard's address (service_status)


def check_tls(settings: DashboardSettings) -> tuple[str, str] | None:
    """The TLS files to use, or None on loopback without them; a `UsageError` when wrong
    (`load_settings` has already reported a wrong service.yaml at its line)."""
    problem = settings.tls_problem()
    if problem is not None:
        raise UsageError(problem[1])
    if not (settings.tls_cert and settings.tls_key):
        return None
    return str(Path(settings.tls_cert).expanduser()), str(Path(settings.tls_key).expanduser())


def url_of(settings: DashboardSettings, port: int, tls: bool) -> str:
    host = settings.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"]


def allowed_hosts(host: str) -> list[str]:
    """The ``Host`` names the dashboard answers to when it listens on ``host``: on loopback,
    the usual loopback names and ``host`` itself as a browser writes it (an IPv6 address in
    brackets; the port, if any, is not part of the name); elsewhere (under TLS) any."""
    if not is_loopback(host):
        return ["*"]
    name = host.lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return LOOPBACK_NAMES if name in LOOPBACK_NAMES else [*LOOPBACK_NAMES, name]


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: any free port) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on such sockets (else Nagle: +40 ms a page)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(64)
    sock.set_inheritable(False)
    return sock


def _bind(settings: DashboardSettings) -> socket.socket:
    """The listening socket. A port set in
    service.yaml is that port or an error; the default port, when taken (another home's
    service), gives way to any free one (said once the service has started)."""
    port = settings.port
    try:
        try:
            return listening_socket(settings.host, port)
        except OSError:
            if "port" in settings.model_fields_set:
                raise
            port = 0
            return listening_socket(settings.host, 0)
    except OSError as exc:
        raise UsageError(
            f"dashboard: cannot listen on {settings.host}:{port or 'any port'}: "
            f"{exc.strerror or exc} (set dashboard.host and dashboard.port in service.yaml)"
        ) from None


class ServiceSource:
    """The pages read the running service's object graph and its current (reloaded) project."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def app(self) -> Any:
        app = getattr(self.service, "app", None)
        if app is None:
            from starlette.exceptions import HTTPException

            raise HTTPException(503, "the service is starting: try again in a moment")
        return app

    @property
    def project(self) -> Any:
        project = getattr(self.service, "project", None)
        if project is None:
            from starlette.exceptions import HTTPException

            raise HTTPException(503, "the service is starting: try again in a moment")
        return project


def _announce(service: Any, url: str, token: str, new: bool) -> None:
    from avflow.dashboard.security import TOKEN_FILE

    if new:  # the only time the token is shown; it is in the file for later
        sys.stderr.write(
            f"dashboard login token (shown once; kept in {service.home / TOKEN_FILE}): {token}\n"
        )
        sys.stderr.flush()
    redact.register(token)  # never in a log line, an audit record or state.db
    from avflow.scheduler.store import ScheduleStore

    ScheduleStore(service.app.state).set_status(**{URL_KEY: url})
    log.info("dashboard listening", url=url)


def uvicorn_config(app: Any, tls: tuple[str, str] | None) -> Any:
    """How uvicorn serves the dashboard (the service, and bench/dashboard.py): httptools' HTTP
    parser and uvloop's event loop (dependencies; uvicorn's pure-Python h11 and asyncio's loop
    otherwise), no access log (the service logs), no ``Server`` header, no ``X-Forwarded-*``
    headers believed, and an idle connection kept for `KEEP_ALIVE` seconds: pages poll every 3
    to 5 seconds, and uvicorn's default (5 s) closed the connection about as often as a poll
    came. Each answer's head is written with its body (`onewrite`: one TCP segment, not two)."""
    import uvicorn

    http: Any = "auto"  # h11 in an environment made before httptools was a dependency
    try:
        from avflow.dashboard.onewrite import OneWriteProtocol

        http = OneWriteProtocol  # httptools' parser
    except ImportError:
        pass
    return uvicorn.Config(
        app,
        http=http,
        loop="auto",  # uvloop (a dependency where it is built), or asyncio's
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,  # no proxy in front: X-Forwarded-* are not believed
        timeout_keep_alive=KEEP_ALIVE,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )


def _serve(
    service: Any,
    settings: DashboardSettings,
    sock: socket.socket,
    tls: tuple[str, str] | None,
    stop: threading.Event,
    box: list[Any],
) -> None:
    """The dashboard's thread: once the service has started (so that the web stack's imports
    never delay its first firings, and no token is made for a service that fails to start),
    serve on ``sock`` until told to stop."""
    # The service's stop and reload signals are for its main thread: one delivered to this
    # thread instead could be lost to the main loop (a Ctrl-C that does not stop the service).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    while not service.ready.wait(0.2):
        if stop.is_set():
            return
    import uvicorn

    from avflow.dashboard.security import load_token
    from avflow.dashboard.web import create_app

    port = sock.getsockname()[1]
    token, new = load_token(service.home)
    if settings.port and port != settings.port:  # the default port was taken
        log.warning(
            "dashboard: the default port is in use; any free port instead", port=settings.port
        )
    _announce(service, url_of(settings, port, tls is not None), token, new)
    app = create_app(
        ServiceSource(service),
        token,
        https=tls is not None,
        hosts=allowed_hosts(settings.host),
        cookie=f"avflow_session_{port}",
    )
    server = uvicorn.Server(uvicorn_config(app, tls))
    box.append(server)
    if not stop.is_set():
        server.run(sockets=[sock])


@contextmanager
def serving(
    service: Any, settings: DashboardSettings, *, once: bool = False
) -> Iterator[str | None]:
    """Serve the dashboard of ``service`` (an `avflow.scheduler.service.Service`) while inside.

    Yields its URL, or None when it is not served (``--once``, ``enabled: false``, or another
    service already runs for this home: the service itself then says so). The port is bound
    at once (connections wait in its queue); pages are served once the service has started.
    """
    from avflow.scheduler.service import service_lock

    if not settings.enabled:
        yield None
        return
    tls = check_tls(settings)  # a wrong setting is an error even when not served this time
    if once or service_lock(service.home).is_held_elsewhere():
        yield None
        return
    sock = _bind(settings)
    stop, box, thread = threading.Event(), cast(list[Any], []), None
    try:
        url = url_of(settings, sock.getsockname()[1], tls is not None)
        thread = threading.Thread(
            target=_serve,
            args=(service, settings, sock, tls, stop, box),
            name="avflow-dashboard",
            daemon=True,
        )
        thread.start()
        yield url
    finally:
        stop.set()
        for server in box:  # the service has stopped: no page is worth waiting for
            server.should_exit = server.force_exit = True
        if thread is not None:
            thread.join(5)
        sock.close()
