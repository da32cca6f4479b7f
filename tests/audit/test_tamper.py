"""Tampering with a trail by editing its files directly: `avflow audit verify` must catch each way.

Every case also runs the bundle's standalone checker (`avflow.audit.standalone`) on the same files:
what a client runs must catch the same tampering.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from avflow.audit import standalone
from avflow.testing import Harness

WORKFLOW = {"steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 2, "reply": True}}]}
# 12 records a run, 1 h 10 min apart: seq 1..48 (runs 1-2 in January, 3-4 in February); checkpoints
# at 1 (first), 11 (every 10), 13 (hourly), 23, 25, 35, 37, 47; the seal at 48.
RUNS = 4


class Trail:
    """The client's record files as editable lists of lines (bytes, with their newlines)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.files = {
            p: p.read_bytes().splitlines(keepends=True) for p in sorted(directory.glob("2*.jsonl"))
        }

    def where(self, seq: int) -> tuple[Path, int]:
        for path, lines in self.files.items():
            for i, line in enumerate(lines):
                if json.loads(line)["seq"] == seq:
                    return path, i
        raise KeyError(seq)

    def line(self, seq: int) -> bytes:
        path, i = self.where(seq)
        return self.files[path][i]

    def save(self) -> None:
        for path, lines in self.files.items():
            path.write_bytes(b"".join(lines))

    def all(self) -> list[tuple[Path, int]]:
        return [(p, i) for p, lines in self.files.items() for i in range(len(lines))]

    def rechain(self, renumber: bool = False) -> None:
        """What a careful forger does after a change: recompute every seq, prev and hash."""
        prev, seq = "0" * 64, 0
        for path, i in self.all():
            rec = json.loads(self.files[path][i])
            seq = seq + 1 if renumber else rec["seq"]
            self.files[path][i] = forge(self.files[path][i], seq=seq, prev=prev)
            prev = json.loads(self.files[path][i])["hash"]


def forge(
    line: bytes, *, seq: int | None = None, prev: str | None = None, description: str | None = None
) -> bytes:
    """Rewrite a record keeping avflow's layout, with a correct own hash."""
    body = re.sub(rb',"hash":"[0-9a-f]{64}"\}\n$', b"", line)
    if seq is not None:
        body = re.sub(rb'^\{"seq":\d+', b'{"seq":%d' % seq, body)
    if prev is not None:
        body = re.sub(rb'"prev":"[0-9a-f]{64}"$', b'"prev":"' + prev.encode() + b'"', body)
    if description is not None:
        body = re.sub(
            rb'"description":(".*?"|null),"details"',
            b'"description":' + json.dumps(description).encode() + b',"details"',
            body,
        )
    digest = hashlib.sha256(body + b"}").hexdigest()
    return body + b',"hash":"' + digest.encode() + b'"}\n'


@pytest.fixture
def trail(audit_harness: Harness, cli: Callable[..., Any], tmp_path: Path) -> Trail:
    h = audit_harness
    h.client("acme", name="Acme", timezone="Europe/Rome", audit={"checkpoint_every": 10})
    h.workflow("acme", "inbox", WORKFLOW)
    for _ in range(RUNS):
        assert h.run("acme/inbox").ok
        h.clock.advance(hours=1, minutes=10)  # crosses into February after the second run
    assert cli("audit", "pubkey", "--output", str(tmp_path / "client-copy.pem")).code == 0
    t = Trail(h.home / "audit" / "acme")
    assert len(t.files) == 2 and sum(len(v) for v in t.files.values()) == 12 * RUNS
    ok = cli("audit", "verify", "acme")
    assert ok.code == 0, ok.out + ok.err
    return t


def check_fails(
    cli: Callable[..., Any], trail: Trail, named: str, *, pubkey: Path | None = None
) -> str:
    """verify exits 1 and its first line names the bad record; the standalone checker fails too."""
    args = ["audit", "verify", "acme"] + (["--pubkey", str(pubkey)] if pubkey else [])
    result = cli(*args)
    assert result.code == 1, result.out + result.err
    first = result.out.splitlines()[0]
    assert first.startswith("FAILED: client acme: first bad record: "), result.out
    assert named in first, first
    key = pubkey or trail.dir.parent.parent / "keys" / "audit-ed25519.pub.pem"
    ok, message, _ = standalone.verify(trail.dir, standalone.read_public_key(key), "acme")
    assert not ok, message
    return first


def test_edited_record(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(7)
    assert b"Fattura 002" in trail.files[path][i]
    trail.files[path][i] = trail.files[path][i].replace(b"Fattura 002", b"Fattura 999")
    trail.save()
    first = check_fails(cli, trail, "record seq 7 was edited")
    assert "2026-01.jsonl:7:" in first
    # The same through the installed command, in a process of its own.
    home = trail.dir.parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "avflow", "--home", str(home), "audit", "verify", "acme"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert proc.returncode == 1 and proc.stdout.splitlines()[0] == first, proc.stdout + proc.stderr


def test_edited_record_with_its_own_hash_recomputed(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(7)
    trail.files[path][i] = forge(trail.files[path][i], description="nothing happened")
    trail.save()
    check_fails(cli, trail, "record seq 7 was replaced: record seq 8 does not chain to it")


def test_edited_record_with_the_whole_chain_recomputed_is_caught_by_a_checkpoint(
    trail: Trail, cli: Callable[..., Any]
) -> None:
    path, i = trail.where(7)
    trail.files[path][i] = forge(trail.files[path][i], description="nothing happened")
    trail.rechain()
    trail.save()
    check_fails(cli, trail, "record seq 11 differs from the one signed in the every checkpoint")


def test_deleted_record(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(7)
    del trail.files[path][i]
    trail.save()
    check_fails(cli, trail, "record seq 8 follows seq 6: record seq 7 deleted")


def test_deleted_record_renumbered_and_rechained_is_caught_by_a_checkpoint(
    trail: Trail, cli: Callable[..., Any]
) -> None:
    path, i = trail.where(7)
    del trail.files[path][i]
    trail.rechain(renumber=True)
    trail.save()
    check_fails(cli, trail, "record seq 11 differs from the one signed")


def test_inserted_record(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(7)
    fake = forge(
        trail.files[path][i],
        seq=8,
        prev=json.loads(trail.files[path][i])["hash"],
        description='move "Fattura 777" from x@example.com to Fatture',
    )
    trail.files[path].insert(i + 1, fake)
    trail.save()
    check_fails(
        cli, trail, "record seq 8 is out of place after seq 8: records reordered or inserted"
    )


def test_inserted_copy_of_a_record(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(20)
    trail.files[path].insert(i + 1, trail.files[path][i])
    trail.save()
    check_fails(cli, trail, "record seq 20 is out of place after seq 20")


def test_reordered_records(trail: Trail, cli: Callable[..., Any]) -> None:
    path, i = trail.where(7)
    lines = trail.files[path]
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    trail.save()
    check_fails(cli, trail, "record seq 8 is out of place after seq 6")


def test_records_moved_between_month_files_in_order_still_verify(
    trail: Trail, cli: Callable[..., Any]
) -> None:
    jan, feb = trail.files
    trail.files[feb].insert(
        0, trail.files[jan].pop()
    )  # same order, other file: the chain is intact
    trail.save()
    assert cli("audit", "verify", "acme").code == 0


def test_truncated_end_after_the_last_checkpoint_is_caught_by_the_seal(
    trail: Trail, cli: Callable[..., Any]
) -> None:
    path = list(trail.files)[-1]
    del trail.files[path][-3:]
    trail.save()
    check_fails(
        cli, trail, "record seq 46..48 missing: the trail ends at seq 45 but the seal checkpoint"
    )


def test_truncated_before_the_last_checkpoint_seal_removed_too(
    trail: Trail, cli: Callable[..., Any]
) -> None:
    for path, i in reversed(trail.all()):
        if json.loads(trail.files[path][i])["seq"] >= 25:
            del trail.files[path][i]
    trail.save()
    (trail.dir / "seal.json").unlink()
    # the seal is gone, but state.db (away from the trail) remembers where it was
    check_fails(cli, trail, "record seq 25..48 missing: the trail ends at seq 24 but state.db")


def test_truncated_mid_record(trail: Trail, cli: Callable[..., Any]) -> None:
    path = list(trail.files)[-1]
    trail.files[path][-1] = trail.files[path][-1][:40]
    trail.save()
    check_fails(cli, trail, "2026-02.jsonl:24: not a complete audit record")


def test_whole_last_month_deleted(trail: Trail, cli: Callable[..., Any]) -> None:
    list(trail.files)[-1].unlink()
    check_fails(cli, trail, "record seq 25..48 missing")


def test_first_month_deleted(trail: Trail, cli: Callable[..., Any]) -> None:
    next(iter(trail.files)).unlink()
    check_fails(
        cli,
        trail,
        "the trail starts at record seq 25: records 1..24 deleted (no signed prune anchor)",
    )


def test_record_of_another_client_put_in(
    trail: Trail, cli: Callable[..., Any], audit_harness: Harness
) -> None:
    h = audit_harness
    h.client("other", name="Other")
    h.workflow("other", "inbox", WORKFLOW)
    assert h.run("other/inbox").ok
    foreign = (
        (h.home / "audit" / "other")
        .glob("2*.jsonl")
        .__next__()
        .read_bytes()
        .splitlines(keepends=True)[6]
    )
    path, i = trail.where(7)
    trail.files[path][i] = forge(foreign, seq=7, prev=json.loads(trail.files[path][i])["prev"])
    trail.rechain()
    trail.save()
    check_fails(cli, trail, "record seq 7 does not belong to client 'acme'")


def test_signing_key_removed(trail: Trail, cli: Callable[..., Any], tmp_path: Path) -> None:
    keys = trail.dir.parent.parent / "keys"
    (keys / "audit-ed25519.pem").unlink()
    (keys / "audit-ed25519.pub.pem").unlink()
    result = cli("audit", "verify", "acme")
    assert result.code == 1 and "no public key to check the signatures with" in result.out
    assert cli("audit", "verify", "acme", "--pubkey", str(tmp_path / "client-copy.pem")).code == 0


def test_forged_checkpoint(trail: Trail, cli: Callable[..., Any]) -> None:
    path = trail.dir / "checkpoints.jsonl"
    cps = [json.loads(x) for x in path.read_text().splitlines()]
    cps[2]["seq"] = 9
    path.write_text("".join(json.dumps(c) + "\n" for c in cps))
    check_fails(cli, trail, "checkpoints.jsonl:3: checkpoint at seq 9 is not signed by key")


def test_home_key_replaced_and_everything_resigned_only_the_clients_pubkey_reveals_it(
    trail: Trail, cli: Callable[..., Any], audit_harness: Harness, tmp_path: Path
) -> None:
    # The forger edits a record, rechains, makes a new key in the home folder and re-signs all.
    path, i = trail.where(7)
    trail.files[path][i] = forge(trail.files[path][i], description="nothing happened")
    trail.rechain()
    trail.save()
    keys = audit_harness.home / "keys"
    new = Ed25519PrivateKey.generate()
    (keys / "audit-ed25519.pem").write_bytes(
        new.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (keys / "audit-ed25519.pub.pem").write_bytes(
        new.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    from avflow.audit.writer import AuditTrail

    forger = AuditTrail(audit_harness.home)
    hashes = {
        json.loads(x)["seq"]: json.loads(x)["hash"] for lines in trail.files.values() for x in lines
    }
    cp_path = trail.dir / "checkpoints.jsonl"
    cps = [json.loads(x) for x in cp_path.read_text().splitlines()]
    from datetime import datetime

    resigned = [
        forger.sign(
            "acme",
            c["seq"],
            hashes[c["seq"]],
            datetime.fromisoformat(c["time"].replace("Z", "+00:00")),
            c["kind"],
        )
        for c in cps
    ]
    cp_path.write_text("".join(c.to_json() + "\n" for c in resigned))
    seal = json.loads((trail.dir / "seal.json").read_text())
    new_seal = forger.sign(
        "acme",
        seal["seq"],
        hashes[seal["seq"]],
        datetime.fromisoformat(seal["time"].replace("Z", "+00:00")),
        "seal",
    )
    (trail.dir / "seal.json").write_text(new_seal.to_json() + "\n")

    # self-consistent with the home folder's (new) key, but state.db remembers the sealed end
    result = cli("audit", "verify", "acme")
    assert result.code == 1, result.out
    assert "record seq 48 differs from the one state.db recorded" in result.out
    check_fails(
        cli,
        trail,
        "checkpoints.jsonl:1: checkpoint at seq 1 is not signed by key",
        pubkey=tmp_path / "client-copy.pem",
    )


def test_anchor_from_an_earlier_bundle_reveals_a_truncation_with_checkpoints_cut_too(
    trail: Trail, cli: Callable[..., Any], tmp_path: Path
) -> None:
    kept = tmp_path / "kept-checkpoints.jsonl"
    shutil.copy(
        trail.dir / "checkpoints.jsonl", kept
    )  # what the client has from last month's bundle
    for path, i in reversed(trail.all()):
        if json.loads(trail.files[path][i])["seq"] >= 25:
            del trail.files[path][i]
    trail.save()
    cp_path = trail.dir / "checkpoints.jsonl"
    cp_path.write_text(
        "".join(x + "\n" for x in cp_path.read_text().splitlines()[:4])
    )  # 1, 11, 13, 23
    (trail.dir / "seal.json").unlink()
    result = cli("audit", "verify", "acme")  # nothing left in the trail shows it; state.db does
    assert result.code == 1 and "but state.db recorded seq 48" in result.out.splitlines()[0]
    assert "no seal.json" in result.err
    result = cli("audit", "verify", "acme", "--anchor", str(kept))
    assert result.code == 1 and "record seq 25..4" in result.out.splitlines()[0]


def test_verify_errors_a_user_can_make(
    trail: Trail, cli: Callable[..., Any], tmp_path: Path
) -> None:
    unknown = cli("audit", "verify", "nobody")
    assert unknown.code == 2 and "no audit trail for client 'nobody'" in unknown.err
    assert "Traceback" not in unknown.err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    result = cli("audit", "verify", "acme", "--pubkey", str(bad))
    assert result.code == 2 and f"{bad}:1: not a PEM public key" in result.err
    missing = cli("audit", "verify", "acme", "--pubkey", str(tmp_path / "nope.pem"))
    assert missing.code == 2 and "cannot read the public key" in missing.err
    anchor = tmp_path / "old-checkpoints.jsonl"
    anchor.write_text('{"client":"acme","seq":1}\n')
    bad_anchor = cli("audit", "verify", "acme", "--anchor", str(anchor))
    assert (
        bad_anchor.code == 2 and f"{anchor}:1: not a checkpoint (missing 'hash')" in bad_anchor.err
    )
