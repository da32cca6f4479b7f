"""Writing the trail: record layout, the chain across months, checkpoints, privacy."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from avflow.errors import AvflowError
from avflow.testing import Harness

MAIL_WORKFLOW = {
    "name": "Inbox triage",
    "steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 2, "reply": True}}],
}

FIELDS = [
    "seq",
    "time",
    "client",
    "workflow",
    "run",
    "step",
    "event",
    "effect",
    "description",
    "details",
    "prev",
    "hash",
]


def own_hash(line: bytes) -> str:
    """SHA-256 of the record's JSON without its hash member, computed independently of avflow."""
    body = re.sub(rb',"hash":"[0-9a-f]{64}"\}\n?$', b"}", line)
    assert body != line, line
    return hashlib.sha256(body).hexdigest()


def test_records_chain_across_a_month_boundary_and_verify(
    audit_harness: Harness, cli: Callable[..., Any], files: Callable[[Harness, str], list[Path]]
) -> None:
    h = audit_harness
    h.client("acme", name="Acme S.r.l.", timezone="Europe/Rome")
    h.workflow("acme", "inbox", MAIL_WORKFLOW)
    first = h.run("acme/inbox")
    assert first.ok, first.error
    h.clock.advance(hours=3)  # 2026-01-31T22:00Z -> 2026-02-01T01:00Z
    second = h.run("acme/inbox")
    assert second.ok, second.error

    paths = files(h, "acme")
    assert [p.name for p in paths] == ["2026-01.jsonl", "2026-02.jsonl"]
    lines = [line for p in paths for line in p.read_bytes().splitlines(keepends=True)]
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    prev = "0" * 64
    for line, rec in zip(lines, records, strict=True):
        assert list(rec) == FIELDS
        assert rec["client"] == "acme"
        assert rec["prev"] == prev
        assert rec["hash"] == own_hash(line)
        # ... which is the canonical JSON of the record without "hash", rebuilt from the parsed record.
        canonical = (
            "{"
            + ",".join(
                f'"{k}":'
                + json.dumps(rec[k], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                for k in FIELDS[:-1]
            )
            + "}"
        )
        assert hashlib.sha256(canonical.encode()).hexdigest() == rec["hash"]
        prev = rec["hash"]
    jan = [r for r in records if r["time"].startswith("2026-01")]
    feb = [r for r in records if r["time"].startswith("2026-02")]
    assert (
        jan
        and feb
        and all(r["run"] == first.id for r in jan)
        and all(r["run"] == second.id for r in feb)
    )
    assert feb[0]["prev"] == jan[-1]["hash"]  # the chain goes on in the new month's file

    events = [r["event"] for r in first.audit]
    assert events == [
        "run.started",
        "effect.intent",
        "effect.done",
        "effect.intent",
        "effect.done",
        "effect.intent",
        "effect.done",
        "effect.intent",
        "effect.done",
        "step.note",
        "step.finished",
        "run.finished",
    ]
    done = [r for r in first.audit if r["event"] == "effect.done"]
    assert [r["details"]["kind"] for r in done] == [
        "email.move",
        "email.send",
        "email.move",
        "email.send",
    ]
    assert (
        done[0]["effect"] == "move:1"
        and done[0]["step"] == "triage"
        and done[0]["workflow"] == "inbox"
    )
    assert first.audit[-1]["details"]["status"] == "succeeded"

    result = cli("audit", "verify", "acme")
    assert result.code == 0, result.out + result.err
    assert f"{len(records)} records (seq 1..{len(records)}) in 2 file(s)" in result.out


def test_checkpoints_every_n_records_and_hourly_signed_with_the_home_key(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    h = audit_harness
    h.client("acme", name="Acme", audit={"checkpoint_every": 5})
    h.workflow("acme", "inbox", MAIL_WORKFLOW)
    h.run("acme/inbox")  # 12 records
    cp_path = h.home / "audit" / "acme" / "checkpoints.jsonl"
    cps = [json.loads(x) for x in cp_path.read_text().splitlines()]
    assert [(c["seq"], c["kind"]) for c in cps] == [(1, "first"), (6, "every"), (11, "every")]
    records = {r["seq"]: r for r in h.audit("acme")}
    pem = cli("audit", "pubkey")
    assert pem.code == 0 and pem.out.startswith("-----BEGIN PUBLIC KEY-----")
    key = load_pem_public_key(pem.out.encode())
    assert isinstance(key, Ed25519PublicKey)
    for c in cps:
        assert c["hash"] == records[c["seq"]]["hash"]
        message = f"avflow-audit-checkpoint/1\nacme\n{c['seq']}\n{c['hash']}\n{c['time']}\n{c['kind']}\n".encode()
        key.verify(base64.b64decode(c["sig"]), message)  # raises if the signature is wrong
    seal = json.loads((h.home / "audit" / "acme" / "seal.json").read_text())
    assert seal["seq"] == max(records) and seal["kind"] == "seal"
    assert (h.home / "keys" / "audit-ed25519.pem").stat().st_mode & 0o077 == 0

    # An hour without a checkpoint while records are written: the next record brings one.
    h.clock.advance(minutes=59)
    trail = h.app.audit
    trail.record("acme", "step.note", description="not yet")
    h.clock.advance(minutes=2)
    rec = trail.record("acme", "step.note", description="an hour later")
    cps = [json.loads(x) for x in cp_path.read_text().splitlines()]
    assert cps[-1]["kind"] == "hourly" and cps[-1]["seq"] == rec["seq"]
    assert cps[-2]["seq"] == 11


def test_masked_profile_masks_subjects_and_addresses_full_keeps_them(
    audit_harness: Harness,
) -> None:
    h = audit_harness
    h.client("masked", name="Masked", audit={"personal_data": "masked"})
    h.client("open", name="Open")
    for c in ("masked", "open"):
        h.workflow(c, "inbox", MAIL_WORKFLOW)
        assert h.run(f"{c}/inbox").ok
    masked = b"".join(
        p.read_bytes() for p in (h.home / "audit" / "masked").glob("2*.jsonl")
    ).decode()
    full = b"".join(p.read_bytes() for p in (h.home / "audit" / "open").glob("2*.jsonl")).decode()
    for personal in ("Fattura 001", "fornitore@example.com", "fornitore"):
        assert personal not in masked
        assert personal in full
    notes = [r for r in h.audit("masked") if r["event"] == "step.note"]
    assert notes[0]["details"] == {"subject": "F***", "sender": "f***@e***.com"}
    moves = [r["description"] for r in h.audit("masked") if r["event"] == "effect.done"]
    assert moves[0] == 'move "F***" from f***@e***.com to Fatture'
    assert moves[1] == 'reply to f***@e***.com about "F***"'
    replies = [r["effect"] for r in h.audit("masked") if r["event"] == "effect.done"][1::2]
    assert replies == ["reply:f***@e***.com:1", "reply:f***@e***.com:2"]


def test_secrets_and_message_bodies_never_reach_the_trail(audit_harness: Harness) -> None:
    h = audit_harness
    h.client("acme", name="Acme", accounts={"mail": {"type": "demo", "password": "${secret:mail}"}})
    h.secret("acme", "mail", "hunter2-very-secret")
    h.workflow("acme", "read", {"steps": [{"uses": "demo.body", "with": {"account": "mail"}}]})
    assert h.run("acme/read").ok
    data = b"".join(p.read_bytes() for p in (h.home / "audit" / "acme").glob("2*.jsonl")).decode()
    assert "hunter2-very-secret" not in data
    assert "Dear client" not in data and "<p>secret</p>" not in data
    note = next(r for r in h.audit("acme") if r["event"] == "step.note")
    assert (
        note["details"]["body"] == "[body not recorded]"
        and note["details"]["html"] == "[body not recorded]"
    )
    assert note["details"]["subject"] == "Contract renewal"  # full mode keeps subjects


def test_a_torn_last_line_is_removed_before_the_next_append(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    h = audit_harness
    h.client("acme", name="Acme")
    h.workflow("acme", "inbox", MAIL_WORKFLOW)
    assert h.run("acme/inbox").ok
    path = h.home / "audit" / "acme" / "2026-01.jsonl"
    with open(path, "ab") as f:  # a power cut in the middle of a write
        f.write(b'{"seq":13,"time":"2026-01-31T22:00:00.0')
    assert cli("audit", "verify", "acme").code == 1
    assert h.reload().engine.trigger(h.find("acme/inbox")).ok
    assert cli("audit", "verify", "acme").code == 0


@pytest.mark.parametrize("cut", ["lines", "torn"])
def test_records_cut_off_a_sealed_end_are_not_written_over(
    audit_harness: Harness, cli: Callable[..., Any], cut: str
) -> None:
    """Records the seal signed, cut off the end (whole lines, or the last one cut short), must
    not be replaced by the next run's records under the same numbers and sealed over."""
    h = audit_harness
    h.client("acme", name="Acme")
    h.workflow("acme", "inbox", MAIL_WORKFLOW)
    assert h.run("acme/inbox").ok
    path = h.home / "audit" / "acme" / "2026-01.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    cut_off = b"".join(lines[:-3]) if cut == "lines" else path.read_bytes()[:-30]
    path.write_bytes(cut_off)
    with pytest.raises(AvflowError, match="was signed"):
        h.reload().engine.trigger(h.find("acme/inbox"))
    assert path.read_bytes() == cut_off  # nothing appended, nothing truncated
    result = cli("audit", "verify", "acme")
    assert result.code == 1
    assert ("missing" if cut == "lines" else "cut short") in result.out, result.out


def test_no_trail_file_stays_open_after_its_run(audit_harness: Harness) -> None:
    """The writer keeps a month file open between one run's records only: a service with a
    thousand clients must not hold a descriptor per client (the limit is often 1,024)."""
    h = audit_harness
    for n in range(3):
        h.client(f"c{n}", name=f"Client {n}")
        h.workflow(f"c{n}", "inbox", MAIL_WORKFLOW)
        assert h.run(f"c{n}/inbox").ok
    audit = str(h.home / "audit")
    held = [
        target
        for fd in os.listdir("/proc/self/fd")
        if (target := os.path.realpath(f"/proc/self/fd/{fd}")).startswith(audit)
        and target.endswith(".jsonl")
    ]
    assert held == []
    records = 0
    for n in range(3):
        (path,) = (h.home / "audit" / f"c{n}").glob("[0-9]*.jsonl")
        records += len(path.read_text().splitlines())
    assert records >= 6  # each run wrote its records (through the descriptor it then closed)


def _held(under: Path, suffix: str = "") -> list[str]:
    """The files under ``under`` this process holds open (its descriptors, from /proc)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listing the folder itself, closed by now
            continue
        if target.startswith(str(under)) and target.endswith(suffix):
            held.append(target)
    return held


def test_no_lock_file_stays_open_after_runs_for_many_clients(audit_harness: Harness) -> None:
    """Each client's ``.lock`` is open only while a run writes: after runs for 80 clients the
    process holds no descriptor of any trail, and has about as many descriptors as after one."""
    h = audit_harness
    audit = (h.home / "audit").resolve()
    for n in range(80):
        h.client(f"c{n}", name=f"Client {n}")
        h.workflow(f"c{n}", "inbox", MAIL_WORKFLOW)
    assert h.run("c0/inbox").ok
    after_one = len(os.listdir("/proc/self/fd"))
    for n in range(1, 80):
        assert h.run(f"c{n}/inbox").ok
    assert _held(audit) == []
    assert len(os.listdir("/proc/self/fd")) <= after_one + 3  # not one more per client
    assert all((audit / f"c{n}" / ".lock").exists() for n in range(80))  # each was locked
    assert all(len(h.audit(f"c{n}")) >= 4 for n in range(80))


def test_lock_files_open_between_records_are_bounded(tmp_path: Path) -> None:
    """Records written without a sync in between (runs still going) keep at most OPEN_LOCKS
    lock files open; the sync at the end of the runs closes them all."""
    from avflow.audit.locks import OPEN_LOCKS
    from avflow.audit.writer import AuditTrail

    trail = AuditTrail(tmp_path)
    for n in range(OPEN_LOCKS + 40):
        trail.record(f"c{n}", "note", description="a record of a run still going")
    assert len(_held(trail.root.resolve(), ".lock")) <= OPEN_LOCKS
    trail.sync()
    assert _held(trail.root.resolve()) == []
    again = AuditTrail(tmp_path)  # the chains are whole: a new writer continues each one
    again.record("c0", "note")
    again.sync()
    assert [r["seq"] for r in again.records("c0")] == [1, 2]
