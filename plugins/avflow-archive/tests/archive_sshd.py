"""A private OpenSSH server for the tests: its own host key, authorized_keys and port.

Runs Debian's ``/usr/sbin/sshd`` in the foreground on 127.0.0.1 with the sftp subsystem, key
authentication only, for the user running the tests.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    """A running sshd: where it listens, who may log in, and the keys to do so."""

    port: int
    user: str
    client_key: str  # OpenSSH private key text
    other_key: str  # a key that is NOT authorized
    host_key_line: str  # "ssh-ed25519 AAAA..."
    root: Path  # a folder the tests use as the archive root on the "NAS"
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "avflow-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(base: Path) -> Sshd:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    _keygen(base / "host_key")
    _keygen(base / "client_key")
    _keygen(base / "other_key")
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    os.chmod(base / "authorized_keys", 0o600)
    root = base / "nas" / "archive"
    root.mkdir(parents=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
    port = _free_port()
    user = getpass.getuser()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {base / 'host_key'}\n"
        f"PidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\n"
        f"AllowUsers {user}\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel VERBOSE\n"
    )
    log = base / "sshd.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError(f"sshd did not start: {log.read_text()}")
    host_pub = (base / "host_key.pub").read_text().split()
    return Sshd(
        port,
        user,
        (base / "client_key").read_text(),
        (base / "other_key").read_text(),
        f"{host_pub[0]} {host_pub[1]}",
        root,
        proc,
        log,
    )
