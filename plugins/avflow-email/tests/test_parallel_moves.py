"""Big triages move messages over two IMAP connections at once: same result, exactly once.

The moves of one plan are one effect (safe to repeat as a whole); these tests check they really
run side by side on two server connections, that the result is what one connection gives, that
an interruption at either edge of that effect repeats nothing, and that a server refusing a
second connection still gets every message moved.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from avflow_email.moves import PARALLEL_MIN, plan_moves
from dovecot import Dovecot
from email_testkit import ImapBox, make_mail, require_dovecot, setup_client
from move_gate import MoveGate

from avflow.testing import SimulatedCrash

KINDS = {"Fattura": "Fatture", "Newsletter": "Newsletter", "Appuntamento": "Appuntamenti"}
RULES = [
    {"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]},
    {"name": "news", "match": {"subject": "newsletter"}, "actions": ["mark_read", {"move": "Newsletter"}]},
    {"name": "appt", "match": {"subject": "appuntamento"}, "actions": ["flag", {"move": "Appuntamenti"}]},
    {"name": "rest", "match": {"subject": "varie"}, "actions": ["flag"]},
]  # fmt: skip


def fill(box: ImapBox, n: int = 1200) -> dict[str, str]:
    """``n`` messages, a quarter of each kind; Message-ID -> its kind ("Varie" stays)."""
    kinds = [*KINDS, "Varie"]
    mails = {f"<p{i}@t>": kinds[i % 4] for i in range(n)}
    box.add_many([make_mail(f"{k} {i}", mid=m) for i, (m, k) in enumerate(mails.items())])
    return mails


def check_sorted(box: ImapBox, mails: dict[str, str]) -> None:
    """Every message once, where the rules put it, with the flags they set."""
    for kind, folder in [*KINDS.items(), ("Varie", "INBOX")]:
        listing = box.listing(folder)
        counts = Counter(mid for mid, _ in listing)
        assert set(counts) == {m for m, k in mails.items() if k == kind}, folder
        assert set(counts.values()) == {1}, f"duplicates in {folder}"
        wanted = {"Newsletter": "\\Seen", "Appuntamento": "\\Flagged", "Varie": "\\Flagged"}
        if kind in wanted:
            assert all(wanted[kind] in flags for _, flags in listing), folder


def logins(server: Dovecot, user: str) -> int:
    log = server.root / "dovecot.log"
    return len(re.findall(rf"Login: user=<{user}>", log.read_text())) if log.exists() else 0


def test_flag_changes_of_moved_messages_travel_with_their_move() -> None:
    ops = [
        {"op": "flag", "flag": "\\Flagged", "add": True, "uids": [1, 2, 3]},
        {"op": "label", "label": "Clienti", "uids": [2, 5]},
        {"op": "flag", "flag": "\\Flagged", "add": False, "uids": [1, 4]},
        {"op": "forward", "uid": 3, "to": ["a@b.it"]},
        {"op": "move", "dest": "A", "uids": [1, 2]},
        {"op": "move", "dest": "B", "uids": [3, 5]},
    ]
    before, batches = plan_moves(ops)
    assert before == [{"op": "forward", "uid": 3, "to": ["a@b.it"]}]
    a, b, stays = batches
    assert (a.dest, a.uids, b.dest, b.uids) == ("A", [1, 2], "B", [3, 5])
    # Each move carries its messages' changes, in the plan's order (set, then cleared).
    assert [(s["op"], s.get("add"), s["uids"]) for s in a.stores] == [
        ("flag", True, [1, 2]),
        ("label", None, [2]),
        ("flag", False, [1]),
    ]
    assert a.changes() == "+\\Flagged, label Clienti, -\\Flagged"
    assert [(s["op"], s["uids"]) for s in b.stores] == [("flag", [3]), ("label", [5])]
    # The messages that stay get their changes in a batch of their own, moved nowhere.
    assert (stays.dest, stays.uids, stays.changes()) == (None, [4], "-\\Flagged")
    # A copy takes the flags set before it: with a copy in the plan, flags stay first.
    copying = [*ops[:4], {"op": "copy", "dest": "C", "uids": [1]}, *ops[4:]]
    before, batches = plan_moves(copying)
    assert before == copying[:5] and not any(b.stores for b in batches)


def test_moves_run_on_two_connections_at_once(avflow_harness, imap_box: ImapBox, dovecot) -> None:  # type: ignore[no-untyped-def]
    mails = fill(imap_box)
    # Each connection's first UID MOVE is held until the other's arrives: met only if avflow
    # really has two moves on the way at once (one after the other, the first would wait alone).
    gate = MoveGate(imap_box.server.port, together=2, wait=10)
    imap_box.account["port"] = gate.port
    setup_client(avflow_harness, imap_box, rules=RULES)
    before = logins(dovecot, imap_box.user)
    result = avflow_harness.run("acme/triage")
    gate.close()
    assert result.status == "succeeded", result.error
    assert gate.met, "the two connections' moves were not on the way at the same time"
    assert logins(dovecot, imap_box.user) - before == 2
    check_sorted(imap_box, mails)
    [moves] = [e for e in result.effects if e.kind == "email.move"]
    assert moves.result == {"connections": 2}
    assert moves.description == (
        "move 900 messages from INBOX: 300 to Fatture, 300 to Newsletter (+\\Seen first), "
        "300 to Appuntamenti (+\\Flagged first); +\\Flagged on 300 that stay"
    )
    assert not [e for e in result.effects if e.kind == "email.flag"]
    assert result.outputs["triage"]["destinations"] == dict.fromkeys(KINDS.values(), 300)


def test_one_connection_when_asked_or_when_few(avflow_harness, imap_box: ImapBox, dovecot) -> None:  # type: ignore[no-untyped-def]
    mails = fill(imap_box)
    imap_box.account["move_connections"] = 1
    setup_client(avflow_harness, imap_box, rules=RULES)
    before = logins(dovecot, imap_box.user)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert logins(dovecot, imap_box.user) - before == 1
    check_sorted(imap_box, mails)
    # One effect per destination, as always with one connection.
    assert Counter(e.kind for e in result.effects)["email.move"] == 3
    # Few messages: not worth a second login.
    more = {f"<q{i}@t>": "Fattura" if i % 2 else "Newsletter" for i in range(PARALLEL_MIN // 2)}
    imap_box.add_many([make_mail(f"{k} {i}", mid=m) for i, (m, k) in enumerate(more.items())])
    del imap_box.account["move_connections"]
    setup_client(avflow_harness, imap_box, rules=RULES)
    before = logins(dovecot, imap_box.user)
    again = avflow_harness.run("acme/triage")
    assert again.status == "succeeded", again.error
    assert logins(dovecot, imap_box.user) - before == 1
    assert Counter(e.kind for e in again.effects)["email.move"] == 2
    check_sorted(imap_box, mails | more)


@pytest.mark.parametrize("edge", ["before", "after"])
def test_interrupted_moves_resume_exactly_once(
    avflow_harness, imap_box: ImapBox, edge: str
) -> None:  # type: ignore[no-untyped-def]
    mails = fill(imap_box)
    setup_client(avflow_harness, imap_box, rules=RULES)

    def crash(phase: str, key: str) -> None:
        if phase == edge and "/moves/" in key:
            avflow_harness.fault = None
            raise SimulatedCrash(f"simulated crash {edge} {key}")

    avflow_harness.fault = crash
    with pytest.raises(SimulatedCrash):
        avflow_harness.run("acme/triage")
    moved = sum(len(imap_box.listing(f)) for f in KINDS.values())
    assert moved == (0 if edge == "before" else 900)
    [resumed] = avflow_harness.resume()
    assert resumed.status == "succeeded", resumed.error
    check_sorted(imap_box, mails)
    assert {e.status for e in resumed.effects} == {"done"}
    assert resumed.outputs["triage"]["destinations"] == dict.fromkeys(KINDS.values(), 300)


@pytest.fixture
def one_connection_server(token_server) -> Iterator[Dovecot]:  # type: ignore[no-untyped-def]
    """A Dovecot that lets each user have one IMAP connection only."""
    require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="avflow-dovecot-limit-"))
    root.chmod(0o755)
    server = Dovecot(root, ssl=False, extra="protocol imap {\n  mail_max_userip_connections = 1\n}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_a_server_refusing_a_second_connection_gets_every_move(
    avflow_harness, one_connection_server: Dovecot, smtp
) -> None:  # type: ignore[no-untyped-def]
    box = ImapBox(one_connection_server, smtp.settings)
    mails = fill(box)
    setup_client(avflow_harness, box, rules=RULES)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    [moves] = [e for e in result.effects if e.kind == "email.move"]
    assert moves.result == {"connections": 1}
    assert (
        "Maximum number of connections"
        in one_connection_server.root.joinpath("dovecot.log").read_text()
    )
    check_sorted(box, mails)


def test_the_second_connection_signs_in_with_the_same_oauth_token(
    avflow_harness, dovecot, token_server
) -> None:  # type: ignore[no-untyped-def]
    from test_xoauth2 import _oauth_box, _secrets

    refresh = f"rt-{uuid.uuid4().hex}"
    box = _oauth_box(dovecot, token_server, refresh)
    token_server.refresh_tokens[refresh] = box.user
    mails = fill(box)
    setup_client(avflow_harness, box, rules=RULES)
    _secrets(avflow_harness, token_server, refresh)
    before = len(token_server.requests)
    logged_in = logins(dovecot, box.user)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    # Dovecot logs a login once it has checked the token (at the token server): both did.
    assert logins(dovecot, box.user) - logged_in == 2
    grants = [c for c in token_server.requests[before:] if c["path"] == "/token"]
    assert len(grants) == 1  # one access token, for both connections
    check_sorted(box, mails)
