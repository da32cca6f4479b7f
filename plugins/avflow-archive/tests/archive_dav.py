"""A WebDAV server for the tests: wsgidav (with cheroot) in a process of its own.

It shares one folder at ``/dav/`` with HTTP basic authentication for one user.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

WSGIDAV = str(Path(sys.executable).parent / "wsgidav")


@dataclass
class Dav:
    """A running wsgidav: its URL, credentials and the folder it shares."""

    url: str
    user: str
    password: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_dav(base: Path) -> Dav:
    base.mkdir(parents=True, exist_ok=True)
    root = base / "share"
    root.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    user, password = "av", "dav-secret-pw"
    config = {
        "host": "127.0.0.1",
        "port": port,
        "server": "cheroot",
        "provider_mapping": {"/dav": str(root)},
        "http_authenticator": {
            "domain_controller": None,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
        "verbose": 2,
        "dir_browser": {"enable": False},
        "lock_storage": True,
        "property_manager": True,
    }
    cfg = base / "wsgidav.json"
    cfg.write_text(json.dumps(config))
    log = base / "wsgidav.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([WSGIDAV, "-c", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/dav"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wsgidav exited: {log.read_text()}")
        try:
            r = httpx.request(
                "PROPFIND", url + "/", auth=(user, password), headers={"Depth": "0"}, timeout=1
            )
            if r.status_code == 207:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"wsgidav did not start: {log.read_text()}")
    return Dav(url, user, password, root, proc, log)
