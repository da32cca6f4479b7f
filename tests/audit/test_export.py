"""Reading the trail back: show, export (JSON lines, CSV) and the client's verification bundle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from avflow.testing import Harness

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


@pytest.fixture
def acme(audit_harness: Harness) -> Harness:
    h = audit_harness
    h.client("acme", name="Acme", timezone="Europe/Rome")
    h.workflow(
        "acme", "inbox", {"steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 2}}]}
    )
    h.workflow("acme", "hello", {"steps": [{"uses": "core.log", "with": {"message": "hello"}}]})
    assert h.run("acme/inbox").ok  # 2026-01-31T22:00Z = 23:00 in Rome
    h.clock.advance(hours=2)
    assert h.run("acme/hello").ok  # 2026-02-01T00:00Z = 01:00 in Rome
    return h


def test_show_table_in_local_time_with_filters(acme: Harness, cli: Callable[..., Any]) -> None:
    result = cli("audit", "show", "acme", "--event", "effect.*", "--workflow", "inbox")
    assert result.code == 0, result.err
    assert "times in Europe/Rome" in result.out
    assert "2026-01-31 23:00:00" in result.out
    assert result.out.count("effect.") == 4 and "run.started" not in result.out
    assert 'move "Fattura 001" from' in result.out
    since = cli("audit", "show", "acme", "--since", "2026-02-01", "--json")
    records = [json.loads(x) for x in since.out.splitlines()]
    assert {r["workflow"] for r in records} == {"hello"} and len(records) == 4
    until = cli("audit", "show", "acme", "--until", "2026-02-01T00:30", "--json")  # local time
    assert {json.loads(x)["workflow"] for x in until.out.splitlines()} == {"inbox"}
    bad = cli("audit", "show", "acme", "--since", "yesterday")
    assert bad.code == 2 and "--since 'yesterday': expected a date (YYYY-MM-DD)" in bad.err
    assert cli("audit", "show", "acme", "--event", "nothing.*").out.strip() == "no records match"
    last = [
        json.loads(x)["seq"]
        for x in cli("audit", "show", "acme", "--json", "-n", "3").out.splitlines()
    ]
    assert last == [10, 11, 12]
    assert cli("audit", "show", "acme", "-n", "0").code == 2


def test_export_jsonl_is_byte_exact_and_csv_has_every_field(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    stored = b"".join(
        p.read_bytes() for p in sorted((acme.home / "audit" / "acme").glob("2*.jsonl"))
    )
    out = tmp_path / "all.jsonl"
    result = cli("audit", "export", "acme", "--format", "jsonl", "-o", str(out))
    assert result.code == 0 and out.read_bytes() == stored
    assert cli("audit", "export", "acme").out.encode() == stored
    text = cli("audit", "export", "acme", "--format", "csv").out
    rows = list(csv.DictReader(io.StringIO(text)))
    records = acme.audit("acme")
    assert list(rows[0]) == FIELDS and len(rows) == len(records)
    assert [int(r["seq"]) for r in rows] == [r["seq"] for r in records]
    assert json.loads(rows[2]["details"]) == records[2]["details"]
    assert rows[0]["step"] == "" and rows[2]["description"] == records[2]["description"]

    acme.app.audit.record(
        "acme", "step.note", description='=HYPERLINK("http://evil.example","click")'
    )
    last = list(csv.DictReader(io.StringIO(cli("audit", "export", "acme", "--format", "csv").out)))[
        -1
    ]
    assert last["description"] == """'=HYPERLINK("http://evil.example","click")"""


def run_checker(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The bundle's checker, run by a Python that sees no site-packages at all (-I -S)."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(folder / "verify_audit.py"), str(folder), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bundle_verifies_without_avflow_and_catches_tampering(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    client_key = tmp_path / "from-my-assistant.pem"
    assert cli("audit", "pubkey", "-o", str(client_key)).code == 0
    dest = tmp_path / "bundle.zip"
    result = cli("audit", "export", "acme", "--format", "bundle", "-o", str(dest))
    assert result.code == 0, result.err
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(dest) as z:
        names = set(z.namelist())
        z.extractall(folder)
    assert names == {
        "records/2026-01.jsonl",
        "records/2026-02.jsonl",
        "checkpoints.jsonl",
        "seal.json",
        "audit-ed25519.pub.pem",
        "verify_audit.py",
        "manifest.json",
        "README.txt",
    }
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert manifest["first_seq"] == 1 and manifest["last_seq"] == len(acme.audit("acme"))

    ok = run_checker(folder, "--pubkey", str(client_key))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: {manifest['last_seq']} records of client 'acme'")

    other = Ed25519PrivateKey.generate().public_key()
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert run_checker(folder, "--pubkey", str(wrong)).stdout.startswith(
        "FAILED: checkpoints.jsonl:1: checkpoint at seq 1 is not signed by this key"
    )

    records = folder / "records" / "2026-01.jsonl"
    records.write_bytes(records.read_bytes().replace(b"Fattura 002", b"Fattura 003"))
    bad = run_checker(folder, "--pubkey", str(client_key))
    assert bad.returncode == 1
    assert bad.stdout.startswith("FAILED: 2026-01.jsonl:4: record seq 4 was edited")

    again = cli("audit", "export", "acme", "--format", "bundle", "--since", "2026-01-01")
    assert again.code == 2 and "a bundle holds the whole trail" in again.err


def test_unknown_client_and_bad_ids(acme: Harness, cli: Callable[..., Any]) -> None:
    for cmd in ("show", "export", "verify"):
        result = cli("audit", cmd, "globex")
        assert (
            result.code == 2
            and "no audit trail for client 'globex'" in result.err
            and "acme" in result.err
        )
    result = cli("audit", "show", "../keys")
    assert result.code == 2 and "'../keys' is not a client id" in result.err


def test_output_into_the_home_folder_is_refused(acme: Harness, cli: Callable[..., Any]) -> None:
    """A careless -o naming the trail, state.db or the signing key would replace it."""
    home = acme.home
    guarded = [home / "state.db", home / "keys" / "audit-ed25519.pem"]
    guarded += sorted((home / "audit" / "acme").glob("*.jsonl"))
    before = {p: p.read_bytes() for p in guarded}
    for args in (
        ("audit", "export", "acme", "-o", str(guarded[-1])),
        ("audit", "export", "acme", "--format", "csv", "-o", str(home / "state.db")),
        ("audit", "export", "acme", "--format", "bundle", "-o", str(home / "keys" / "b.zip")),
        ("audit", "report", "acme", "-o", str(guarded[-1])),
        ("audit", "pubkey", "-o", str(home / "keys" / "audit-ed25519.pem")),
    ):
        result = cli(*args)
        assert result.code == 2 and "inside the home folder" in result.err, (args, result)
        assert len(result.err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in guarded} == before
    assert not (home / "keys" / "b.zip").exists()
    assert cli("audit", "report", "acme", "-o", str(home / "reports" / "r.html")).code == 0


def test_years_off_the_calendar_are_refused(acme: Harness, cli: Callable[..., Any]) -> None:
    for args in (
        ("audit", "show", "acme", "--since", "0001-01-01"),
        ("audit", "export", "acme", "--until", "9999-12-31T23:59"),
        ("audit", "report", "acme", "--month", "0001-01"),
        ("audit", "report", "acme", "--month", "9999-12"),
    ):
        result = cli(*args)
        assert result.code == 2 and "between 1900 and 9000" in result.err, (args, result)


def test_output_into_the_workflows_folder_is_refused(
    acme: Harness, cli: Callable[..., Any]
) -> None:
    """``-o workflows/acme/inbox.yaml`` replaced a workflow with JSON lines (validate then
    failed on it): a careless -o may not name a file of the workflows folder either."""
    wf = acme.workflows / "acme" / "inbox.yaml"
    before = wf.read_bytes()
    for args in (
        ("audit", "export", "acme", "-o", str(wf)),
        ("audit", "export", "acme", "--format", "bundle", "-o", str(wf.with_name("b.zip"))),
        ("audit", "report", "acme", "-o", str(acme.workflows / "r.html")),
        ("audit", "pubkey", "-o", str(acme.workflows / "acme" / "key.pem")),
    ):
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert result.err == (
            f"error: -o {args[-1]}: that is inside the workflows folder {acme.workflows}; "
            "write it elsewhere\n"
        ), result
    assert wf.read_bytes() == before
    assert sorted(p.name for p in (acme.workflows / "acme").iterdir()) == [
        "client.yaml",
        "hello.yaml",
        "inbox.yaml",
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_into_a_folder_not_made_yet_makes_it(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path, fmt: str
) -> None:
    """Like the bundle, the report and the key: the folder is made (it was a traceback)."""
    out = tmp_path / "for-client" / "2026" / f"acme.{fmt}"
    result = cli("audit", "export", "acme", "--format", fmt, "-o", str(out))
    assert result.code == 0 and "Traceback" not in result.err, result
    assert out.is_file() and out.stat().st_size > 0


def test_an_export_interrupted_midway_leaves_the_old_file_whole(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or a kill) in the middle of an export: the file named by -o is the previous
    export or nothing, never the first half of this one (which would look like a whole one)."""
    from avflow.audit import export as ex

    out = tmp_path / "acme.jsonl"
    assert cli("audit", "export", "acme", "-o", str(out)).code == 0
    whole = out.read_bytes()
    real = ex.write_jsonl

    def half_then_ctrl_c(directory: Path, flt: Any, f: Any) -> int:
        real(directory, flt, f)
        raise KeyboardInterrupt

    monkeypatch.setattr(ex, "write_jsonl", half_then_ctrl_c)
    acme.clock.advance(hours=1)
    assert acme.run("acme/hello").ok  # more records than the first export
    for dest in (out, tmp_path / "new.jsonl"):
        stopped = cli("audit", "export", "acme", "-o", str(dest))
        assert stopped.code == 1 and "aborted" in stopped.err, stopped
    assert out.read_bytes() == whole
    assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == ["acme.jsonl"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "bundle"])
def test_output_to_a_fifo_is_written_to_and_a_link_stays_a_link(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path, fmt: str
) -> None:
    """-o names something that is not a file (a FIFO here; /dev/null alike): it is written to,
    never replaced by a file (the whole-or-nothing rename would have replaced /dev/null).
    -o names a link: the file it leads to is replaced, the link stays."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = cli("audit", "export", "acme", "--format", fmt, "-o", str(fifo))
    reader.join(timeout=30)
    assert result.code == 0, result
    assert fifo.is_fifo() and got and len(got[0]) > 100
    target = tmp_path / "kept" / f"acme.{fmt}"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / f"latest.{fmt}"
    link.symlink_to(target)
    assert cli("audit", "export", "acme", "--format", fmt, "-o", str(link)).code == 0
    assert link.is_symlink() and target.read_bytes() != b"old\n"
    assert target.read_bytes()[:2] == (got[0][:2] if fmt != "bundle" else b"PK")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_an_empty_output_name_is_one_line(acme: Harness, cli: Callable[..., Any]) -> None:
    for args in (("audit", "export", "acme"), ("audit", "pubkey"), ("audit", "report", "acme")):
        result = cli(*args, "-o", "")
        assert result.code == 2 and result.err == "error: -o: give a file name\n", result


def test_a_report_to_a_fifo_writes_no_bundle_beside_it(
    acme: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The bundle goes beside the report: beside /dev/null it would be a file in /dev."""
    import os
    import threading

    out = tmp_path / "out"
    out.mkdir()
    fifo = out / "pipe"
    os.mkfifo(fifo)
    result = cli("audit", "report", "acme", "--month", "2026-01", "-o", str(fifo))
    assert result.code == 2
    assert result.err == (
        f"error: -o {fifo} is not a file: the bundle goes beside the report; add --no-bundle\n"
    )
    assert [p.name for p in out.iterdir()] == ["pipe"]
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    args = ("audit", "report", "acme", "--month", "2026-01", "--no-bundle", "-o", str(fifo))
    result = cli(*args)
    reader.join(timeout=30)
    assert result.code == 0 and got and b"<html" in got[0].lower(), result
    assert [p.name for p in out.iterdir()] == ["pipe"]
