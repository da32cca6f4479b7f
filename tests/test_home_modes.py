"""Everything avflow creates under its home folder is 0600 (files) or 0700 (folders), whatever
the umask: state.db and its -wal/-shm, the audit trail and keys, the vault, the spool, locks,
the archive's full-text index in the plugin's data folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("umask", [0o000, 0o277])
def test_everything_under_home_is_private(tmp_path: Path, umask: int) -> None:
    workflows, home = tmp_path / "workflows", tmp_path / "home"
    acme = workflows / "acme"
    (acme / "data" / "scanner").mkdir(parents=True)
    (acme / "data" / "scanner" / "fattura.pdf").write_bytes(b"%PDF-1.4 fattura 1")
    (acme / "client.yaml").write_text(
        "name: Acme\naccounts:\n  archivio: { type: local, path: data/Archivio, create: true }\n"
    )
    (acme / "scan.yaml").write_text(
        "steps:\n  - uses: archive.scan\n    with: { account: archivio, folder: data/scanner,"
        " settle: 0 }\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}
    env.pop("AVFLOW_VAULT_KEY", None)
    base = [sys.executable, "-m", "avflow", "--workflows", str(workflows), "--home", str(home)]
    for args, stdin in (
        (["secrets", "set", "acme", "pw"], "x"),
        (["trigger", "acme/scan"], None),
        (["audit", "verify", "acme"], None),
        (["archive", "search", "acme", "fattura"], None),
        (["run", "--once"], None),
    ):
        done = subprocess.run(
            [*base, *args], input=stdin, capture_output=True, text=True, env=env, umask=umask
        )
        assert done.returncode == 0, (args, done.stderr)
    assert list((acme / "data" / "Archivio").rglob("*.pdf")), "the scan was filed"
    seen = {p.relative_to(home).as_posix(): p.lstat().st_mode for p in home.rglob("*")}
    for must in ("state.db", "audit/acme", "keys/vault.key", "vault/acme.json", "plugins/archive"):
        assert must in seen, sorted(seen)
    assert any(name.startswith("plugins/archive/index.db") for name in seen), sorted(seen)
    loose = {
        name: oct(mode & 0o777)
        for name, mode in seen.items()
        if (stat.S_ISDIR(mode) and mode & 0o777 != 0o700)
        or (stat.S_ISREG(mode) and mode & 0o777 != 0o600)
    }
    assert loose == {}


def test_sqlite_side_files_take_the_private_mode(tmp_path: Path) -> None:
    """SQLite's -wal and -shm, present while the database is open, are 0600 too."""
    from avflow.state import State

    old = os.umask(0)
    try:
        state = State(tmp_path / "home" / "state.db")
        state.cursor_set("acme", "wf", "p", "k", 1)
        sides = [tmp_path / "home" / f"state.db{s}" for s in ("", "-wal", "-shm")]
        assert all(p.exists() for p in sides)
        assert {oct(p.stat().st_mode & 0o777) for p in sides} == {"0o600"}
        assert oct((tmp_path / "home").stat().st_mode & 0o777) == "0o700"
        state.close()
    finally:
        os.umask(old)
