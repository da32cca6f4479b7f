"""The dashboard inside a real ``avflow run`` process, and ``avflow dashboard``."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from dashboard_testkit import csrf_of
from sched_helpers import PLUGINS, ServiceProc, client, main_with_clock, write

WF = """\
name: Hourly
on:
  schedule:
    - cron: "0 * * * *"
steps:
  - id: say
    uses: core.log
    with: { message: hello }
"""


def _avflow(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            main_with_clock(None),
            "--workflows",
            str(project / "workflows"),
            "--home",
            str(project / "home"),
            "--plugins-dir",
            str(PLUGINS),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})},
    )


def _settings(project: Path, text: str) -> None:
    write(project / "home" / "service.yaml", text)


def _start(project: Path, services: list[ServiceProc]) -> tuple[ServiceProc, str]:
    svc = ServiceProc(project, "run")
    services.append(svc)
    url = svc.wait_log("dashboard listening")["url"]
    svc.wait_log("service started")
    return svc, url


def test_another_address_without_tls_is_one_line_and_exit_2(project: Path) -> None:
    client(project, "acme")
    _settings(project, "dashboard:\n  host: 0.0.0.0\n")
    result = _avflow(project, "run", "--once")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.endswith(
        "service.yaml:2:3: dashboard: listening on 0.0.0.0 needs dashboard.tls_cert and "
        "dashboard.tls_key in service.yaml (or host: 127.0.0.1)"
    ), line
    _settings(
        project,
        "dashboard:\n  host: 0.0.0.0\n  tls_cert: /nonexistent/cert.pem\n  tls_key: k.pem\n",
    )
    result = _avflow(project, "run", "--once")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        "service.yaml:3:3: dashboard.tls_cert: /nonexistent/cert.pem: no such file"
    ), result.stderr
    _settings(project, "dashboard:\n  tls_key: k.pem\n")  # half of the pair, on loopback
    result = _avflow(project, "run", "--once")
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "service.yaml:2:3: dashboard: give both dashboard.tls_cert and dashboard.tls_key "
        "(tls_cert is missing)"
    ), result.stderr
    _settings(project, "dashboard:\n  port: 99999\n")
    result = _avflow(project, "run", "--once")
    assert (
        result.returncode == 2
        and "service.yaml:2" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_a_port_set_and_taken_is_one_line_and_exit_2(project: Path) -> None:
    client(project, "acme")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        _settings(project, f"dashboard:\n  port: {port}\n")
        result = _avflow(project, "run")
    finally:
        taken.close()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: dashboard: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(set dashboard.host and dashboard.port in service.yaml)"
    ]


def _kept_alive(url: str) -> None:
    """An idle connection is still open after 6 s (pages poll every 3-5 s; uvicorn's default
    closed it after 5), and answers on it."""
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    request = f"GET /login HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        for pause in (0, 6):
            time.sleep(pause)
            conn.sendall(request)
            answer = b""
            while b"</html>" not in answer:
                got = conn.recv(65536)
                assert got, f"closed after {pause} s idle"
                answer += got
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]


def test_the_service_serves_the_dashboard_token_printed_once(
    project: Path, services: list[ServiceProc]
) -> None:
    client(project, "acme", timezone="Europe/Rome")
    write(project / "workflows/acme/hourly.yaml", WF)
    _settings(project, "dashboard:\n  port: 0\n")
    svc, url = _start(project, services)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    token_file = project / "home" / "dashboard-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    printed = [line for line in svc.lines if token in line]
    assert len(printed) == 1 and "shown once" in printed[0]
    with httpx.Client(base_url=url) as web:
        assert web.get("/").status_code == 303
        csrf = csrf_of(web.get("/login").text)
        r = web.post("/login", data={"token": token, "csrf": csrf})
        assert r.status_code == 303
        answer = web.get("/clients/acme")
        page = answer.text
        assert "Hourly" in page and ("CET" in page or "CEST" in page)
        assert "server" not in answer.headers  # uvicorn's name and version are not told
        _kept_alive(url)
        assert "service running (pid" in web.get("/").text
        shown = _avflow(project, "dashboard", "--no-browser")
        assert shown.returncode == 0 and shown.stdout.strip() == url
        opened = _avflow(project, "dashboard", env={"BROWSER": str(project / "no-such-browser")})
        assert opened.returncode == 0 and opened.stdout.strip() == url
        assert "dashboard-token" in opened.stderr and token not in opened.stdout + opened.stderr
    assert svc.stop() == 0
    assert all(token not in line for line in svc.lines if line.startswith("{"))  # not in logs
    again, _ = _start(project, services)
    assert not any(token in line for line in again.lines)  # shown on the first start only
    assert again.stop() == 0
    gone = _avflow(project, "dashboard", "--no-browser")
    assert gone.returncode == 1 and "start `avflow run`" in gone.stderr


def test_the_default_port_taken_gives_way_to_a_free_one(
    project: Path, services: list[ServiceProc]
) -> None:
    from avflow.scheduler.settings import DashboardSettings

    client(project, "acme")
    default = DashboardSettings().port
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        taken.bind(("127.0.0.1", default))
        taken.listen(1)
    except OSError:
        pass  # already taken by something else: the same case
    try:
        svc, url = _start(project, services)
        assert not url.endswith(f":{default}/")
        svc.wait_log("dashboard: the default port is in use; any free port instead")
        assert httpx.get(url).status_code == 303
        assert svc.stop() == 0
    finally:
        taken.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), made with `cryptography`."""
    import datetime as dt
    import ipaddress

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
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_with_tls_settings_it_serves_https_and_secure_cookies(
    project: Path, services: list[ServiceProc]
) -> None:
    import ssl

    client(project, "acme")
    cert, key = _self_signed(project)
    _settings(project, f"dashboard:\n  port: 0\n  tls_cert: {cert}\n  tls_key: {key}\n")
    svc, url = _start(project, services)
    assert url.startswith("https://127.0.0.1:")
    token = (project / "home" / "dashboard-token").read_text().strip()
    trust = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(base_url=url, verify=trust) as web:
        csrf = csrf_of(web.get("/login").text)
        r = web.post("/login", data={"token": token, "csrf": csrf})
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
        assert web.get("/").status_code == 200
    with httpx.Client(base_url=url.replace("https", "http")) as plain:
        try:
            answered = plain.get("/login").status_code
        except httpx.HTTPError:
            answered = None
        assert answered != 200  # no page over plain HTTP
    assert svc.stop() == 0


def test_another_loopback_address_is_served_and_other_hosts_refused(
    project: Path, services: list[ServiceProc]
) -> None:
    """``host: 127.0.0.2``: the dashboard answers to that name (it answered every request
    ``400 Invalid host header``), and still refuses another one (DNS rebinding)."""
    client(project, "acme")
    _settings(project, "dashboard:\n  host: 127.0.0.2\n  port: 0\n")
    svc, url = _start(project, services)
    assert re.fullmatch(r"http://127\.0\.0\.2:\d+/", url), url
    with httpx.Client(base_url=url) as web:
        assert web.get("/login").status_code == 200  # Host: 127.0.0.2:PORT
        assert web.get("/login", headers={"Host": "127.0.0.2"}).status_code == 200
        assert web.get("/", follow_redirects=False).status_code == 303  # still needs a login
        for host in ("evil.example", "127.0.0.3", "evil.example:8765"):
            r = web.get("/login", headers={"Host": host})
            assert r.status_code == 400 and r.text == "Invalid host header", host
    assert svc.stop() == 0
