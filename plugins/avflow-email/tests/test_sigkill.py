"""SIGKILL of a real ``avflow`` process in the middle of moves and of a forward, then ``resume``.

Afterwards every message is exactly once where the rules put it, and no mail was sent twice
(counted at an SMTP server running in a process of its own, which outlives the killed one).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from dovecot import free_port
from email_testkit import ImapBox, make_mail, setup_client
from move_gate import HoldingGate, MoveGate

AVFLOW = Path(sys.executable).parent / "avflow"


def _avflow(h: Any, *args: str) -> list[str]:
    return [
        str(AVFLOW),
        "--workflows",
        str(h.workflows),
        "--home",
        str(h.home),
        "--log-level",
        "warning",
        *args,
    ]


def _wait(pred: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []  # the schema is not there yet


@pytest.fixture
def smtp_process(tmp_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    folder, port = tmp_path / "smtp", free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "smtp_sink.py"), str(port), str(folder), "3"]
    )
    _wait(lambda: (folder / "ready").exists(), 30, "the SMTP sink")
    yield {"host": "127.0.0.1", "port": port, "security": "none"}, folder
    proc.kill()
    proc.wait()


def test_sigkill_in_the_middle_of_moves(avflow_harness, imap_box: ImapBox) -> None:  # type: ignore[no-untyped-def]
    kinds = ["Fattura", "Newsletter", "Appuntamento", "Notifica", "Varie"]
    mails = {f"<k{i}@t>": kinds[i % 5] for i in range(1500)}
    imap_box.add_many(
        [make_mail(f"{kind} {i}", mid=mid) for i, (mid, kind) in enumerate(mails.items())]
    )
    dest = {
        "Fattura": "Fatture",
        "Newsletter": "Newsletter",
        "Appuntamento": "Appuntamenti",
        "Notifica": "Notifiche",
    }
    for folder in dest.values():
        imap_box.create(folder)
    # avflow reaches Dovecot through a gate that freezes each connection after its first
    # UID MOVE: the kill then lands with exactly two of the four moves done, one per connection.
    gate = MoveGate(imap_box.server.port, freeze=True)
    imap_box.account["port"] = gate.port
    setup_client(
        avflow_harness,
        imap_box,
        rules=[
            {
                "name": k,
                "match": {"subject": k},
                "actions": (["flag"] if k == "Appuntamento" else []) + [{"move": d}],
            }
            for k, d in dest.items()
        ],
    )
    db = avflow_harness.home / "state.db"
    proc = subprocess.Popen(
        _avflow(avflow_harness, "trigger", "acme/triage"), stdout=subprocess.DEVNULL
    )
    try:
        _wait(lambda: gate.moving == 2, 60, "a UID MOVE on each of two connections")
    finally:
        proc.kill()
        proc.wait()
    gate.release()
    assert _query(db, "SELECT status FROM runs") == [("running",)]
    assert _query(db, "SELECT status FROM effects WHERE kind = 'email.move'") == [("pending",)]

    def moved() -> int:
        return sum(len(imap_box.listing(folder)) for folder in dest.values())

    _wait(lambda: moved() == 600, 10, "the two moves let through")
    time.sleep(0.3)
    assert moved() == 600, "a move held by the gate reached the server"
    resumed = subprocess.run(
        _avflow(avflow_harness, "resume"), capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "succeeded" in resumed.stdout
    for kind, folder in [*dest.items(), ("Varie", "INBOX")]:
        listing = imap_box.listing(folder)
        counts = Counter(mid for mid, _ in listing)
        assert set(counts) == {m for m, k in mails.items() if k == kind}, folder
        assert set(counts.values()) == {1}, f"duplicates in {folder}"
        if kind == "Appuntamento":
            assert all("\\Flagged" in flags for _, flags in listing)
    assert _query(db, "SELECT DISTINCT status FROM effects") == [("done",)]


def test_rerun_while_the_killed_runs_moves_are_half_done_at_the_server(
    avflow_harness, imap_box: ImapBox
) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 A: avflow is killed while the server is still carrying out its UID MOVE, and the
    re-run meets the server's half-done state: part of a batch already copied into the
    destination, still in the source (Dovecot's MOVE copies a batch, then expunges it). The
    killed run's connections are held back by a proxy all through the re-run and let go after.

    The half-done state is made with a COPY of the test's own: a Dovecot session frozen in it
    holds the folder's lock, and every other session waits two minutes for it.
    """
    kinds = {0: "Fattura", 1: "Fattura", 2: "Newsletter", 3: "Varie"}
    mails = {f"<h{i}@t>": kinds[i % 4] for i in range(1200)}
    imap_box.add_many(
        [make_mail(f"{kind} {i}", mid=mid) for i, (mid, kind) in enumerate(mails.items())]
    )
    dest = {"Fattura": "Fatture", "Newsletter": "Newsletter"}
    for folder in dest.values():
        imap_box.create(folder)
    gate = HoldingGate(imap_box.server.port)
    imap_box.account["port"] = gate.port
    setup_client(
        avflow_harness,
        imap_box,
        rules=[
            {"name": k, "match": {"subject": k}, "actions": [{"move": d}]} for k, d in dest.items()
        ],
    )
    proc = subprocess.Popen(
        _avflow(avflow_harness, "trigger", "acme/triage"), stdout=subprocess.DEVNULL
    )
    try:
        _wait(lambda: gate.moving == 2, 60, "a UID MOVE on each of two connections")
    finally:
        proc.kill()
        proc.wait()
    gate.release()
    # What the server had done of the held MOVE to Fatture: the first 400 copied, not expunged.
    server = imap_box.client()
    try:
        server.select_folder("INBOX")
        invoices = sorted(
            server.search(["SUBJECT", "Fattura"]),
        )
        assert len(invoices) == 600
        server.copy(invoices[:400], "Fatture")
        # and 100 of them a second time (two commands racing over the same messages)
        server.copy(invoices[300:400], "Fatture")
    finally:
        server.logout()
    try:
        resumed = subprocess.run(
            _avflow(avflow_harness, "resume"), capture_output=True, text=True, timeout=300
        )
        gate.let_go()  # the killed run's moves reach the server only now: nothing left to move
        time.sleep(0.5)
    finally:
        gate.close()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "succeeded" in resumed.stdout
    for kind, folder in [*dest.items(), ("Varie", "INBOX")]:
        counted = Counter(mid for mid, _ in imap_box.listing(folder))
        assert set(counted) == {m for m, k in mails.items() if k == kind}, folder
        duplicates = sum(v - 1 for v in counted.values())
        assert duplicates == 0, f"{duplicates} duplicates in {folder}"
    db = avflow_harness.home / "state.db"
    assert _query(db, "SELECT status FROM runs") == [("succeeded",)]
    notes = [r for r in avflow_harness.audit("acme") if "interrupted triage" in str(r)]
    assert notes, "the re-run says it reconciled"


def test_sigkill_in_the_middle_of_a_forward(
    avflow_harness, imap_box: ImapBox, smtp_process
) -> None:  # type: ignore[no-untyped-def]
    smtp, outbox = smtp_process
    imap_box.account["smtp"] = smtp
    imap_box.create("Sent")
    urgent = [f"<fw{i}@t>" for i in range(3)]
    imap_box.add_many(
        [make_mail(f"Urgente {i}", mid=mid) for i, mid in enumerate(urgent)]
        + [make_mail("Fattura", mid="<inv@t>")]
    )
    setup_client(
        avflow_harness,
        imap_box,
        rules=[
            {
                "name": "urgent",
                "match": {"subject": "urgente"},
                "actions": [{"forward": "boss@acme.example"}, {"move": "Urgenti"}],
            },
            {"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]},
        ],
    )
    db = avflow_harness.home / "state.db"
    proc = subprocess.Popen(
        _avflow(avflow_harness, "trigger", "acme/triage"), stdout=subprocess.DEVNULL
    )
    # The sink holds the first message after its body arrived: the outcome is unknown to avflow.
    _wait(lambda: (outbox / "receiving-1").exists(), 60, "the first forward to reach the server")
    proc.kill()
    proc.wait()
    assert _query(db, "SELECT status FROM runs") == [("running",)]
    resumed = subprocess.run(
        _avflow(avflow_harness, "resume"), capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _wait(lambda: len(list(outbox.glob("msg-*.eml"))) >= 3, 30, "three delivered forwards")
    time.sleep(0.5)  # anything sent twice would have arrived by now
    delivered = [
        message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox.glob("msg-*.eml")
    ]
    ids = Counter(str(m["Message-ID"]) for m in delivered)
    assert len(ids) == 3 and set(ids.values()) == {1}, ids
    forwarded = Counter(
        str(p.get_content()["Message-ID"]) for m in delivered for p in m.iter_attachments()
    )
    assert set(forwarded) == set(urgent) and set(forwarded.values()) == {1}
    assert Counter(m for m, _ in imap_box.listing("Sent")) == ids
    assert Counter(m for m, _ in imap_box.listing("Urgenti")) == dict.fromkeys(urgent, 1)
    assert [m for m, _ in imap_box.listing("Fatture")] == ["<inv@t>"]
    # A later run sends nothing again.
    again = subprocess.run(
        _avflow(avflow_harness, "trigger", "acme/triage"), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    time.sleep(0.3)
    assert len(list(outbox.glob("msg-*.eml"))) == 3
