"""Erasing or re-signing a trail when one holds only the trail (or the whole home folder).

state.db remembers each client's sealed end, away from the trail: a trail deleted, cut short or
rewritten does not verify. With the signing key outside the home folder (``AVFLOW_AUDIT_KEY``),
a key someone puts beside the trail signs nothing `verify` or the client accepts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from avflow.audit import standalone
from avflow.audit.keys import KEY_ENV, AuditKey
from avflow.audit.writer import AuditTrail
from avflow.testing import Harness

from .test_tamper import Trail, forge

WORKFLOW = {"steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 2}}]}


def _runs(h: Harness, n: int = 2) -> Path:
    h.client("acme", name="Acme", timezone="Europe/Rome")
    h.workflow("acme", "inbox", WORKFLOW)
    for _ in range(n):
        assert h.run("acme/inbox").ok
        h.clock.advance(minutes=5)
    return h.home / "audit" / "acme"


def _failed(result: Any) -> str:
    assert result.code == 1, result.out + result.err
    first = result.out.splitlines()[0]
    assert first.startswith("FAILED: client acme: "), result.out
    return first


def test_every_file_of_the_trail_deleted_does_not_verify(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    trail = _runs(audit_harness)
    assert cli("audit", "verify", "acme").code == 0
    for path in trail.iterdir():
        path.unlink()
    first = _failed(cli("audit", "verify", "acme"))
    assert "record seq 1.." in first and "but state.db recorded seq" in first
    assert "(the trail was deleted)" in first
    shutil.rmtree(trail)  # the folder itself too: still not "no trail" (exit 2), nor "OK"
    first = _failed(cli("audit", "verify", "acme"))
    assert "the trail was deleted" in first


def test_a_client_never_run_has_no_trail_and_says_so(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    _runs(audit_harness)
    result = cli("audit", "verify", "beta")
    assert result.code == 2 and "no audit trail for client 'beta'" in result.err


def test_client_ids_with_a_trailing_newline_are_refused(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    _runs(audit_harness)
    result = cli("audit", "verify", "acme\n")
    assert result.code == 2 and "is not a client id" in result.err


@pytest.fixture
def outside_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "usb-stick"
    folder.mkdir()
    monkeypatch.setenv(KEY_ENV, str(folder / "avflow-audit.pem"))
    return folder / "avflow-audit.pem"


def test_the_signing_key_can_live_outside_the_home_folder(
    audit_harness: Harness, cli: Callable[..., Any], outside_key: Path, tmp_path: Path
) -> None:
    trail = _runs(audit_harness)
    assert outside_key.stat().st_mode & 0o077 == 0
    assert not (audit_harness.home / "keys" / "audit-ed25519.pem").exists()
    assert cli("audit", "pubkey", "--output", str(tmp_path / "client.pem")).code == 0
    ok = cli("audit", "verify", "acme")
    assert ok.code == 0 and "OK: client acme" in ok.out
    bundle = tmp_path / "bundle"
    assert (
        cli("audit", "export", "acme", "--format", "bundle", "-o", str(tmp_path / "b.zip")).code
        == 0
    )
    shutil.unpack_archive(tmp_path / "b.zip", bundle)
    client_key = standalone.read_public_key(tmp_path / "client.pem")
    assert standalone.verify(bundle, client_key, "acme")[0]

    # Someone holding the home folder, not the key: a key of their own beside the trail, a
    # forged record, the chain recomputed and every signature made again with their key.
    forger = AuditTrail(audit_harness.home)
    forger.key = AuditKey(audit_harness.home, path=audit_harness.home / "keys" / "forged.pem")
    forger.key.private_path.parent.mkdir(exist_ok=True)
    forger.key._create()
    t = Trail(trail)
    path, i = t.where(3)
    t.files[path][i] = forge(t.files[path][i], description="nothing happened")
    t.rechain()
    t.save()
    hashes = {json.loads(x)["seq"]: json.loads(x)["hash"] for ls in t.files.values() for x in ls}
    for name in ("checkpoints.jsonl", "seal.json"):
        entries = [json.loads(x) for x in (trail / name).read_text().splitlines() if x.strip()]
        resigned = [
            forger.sign(
                "acme",
                c["seq"],
                hashes[c["seq"]],
                datetime.fromisoformat(c["time"].replace("Z", "+00:00")),
                c["kind"],
            ).to_json()
            for c in entries
        ]
        (trail / name).write_text("".join(x + "\n" for x in resigned))
    standalone_forger = standalone.read_public_key(forger.key.public_path)
    assert standalone.verify(trail, standalone_forger, "acme")[0]  # a consistent forgery
    # avflow checks with the configured key, not with one found beside the trail
    first = _failed(cli("audit", "verify", "acme"))
    assert "checkpoints.jsonl:1: checkpoint at seq 1 is not signed by key" in first
    # the client checks with the public key she was given: the forgery fails there too
    first = _failed(cli("audit", "verify", "acme", "--pubkey", str(tmp_path / "client.pem")))
    assert "is not signed by key" in first
    ok, message, _ = standalone.verify(trail, client_key, "acme")
    assert not ok and "not signed" in message, message


def test_a_missing_key_while_signed_trails_exist_is_an_error_never_a_new_key(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    _runs(audit_harness)
    key = audit_harness.home / "keys" / "audit-ed25519.pem"
    key.unlink()
    result = cli("trigger", "acme/inbox")
    assert result.code == 2, result.out + result.err
    err = result.err.strip().splitlines()
    assert len(err) == 1 and "is missing, but trails signed with it exist" in err[0], result.err
    assert not key.exists()
