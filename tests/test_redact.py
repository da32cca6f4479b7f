"""Redaction: escaped and encoded forms of a secret, mapping keys, and what reaches SQLite."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from urllib.parse import quote, quote_plus

from avflow import redact

SECRET = 'Unit\\Te\'st "sëcret"/42'


def test_every_written_form_is_masked() -> None:
    redact.register(SECRET)
    written = [
        SECRET,
        repr(SECRET),
        str([SECRET]),
        json.dumps(SECRET),
        json.dumps({"p": SECRET}, ensure_ascii=False),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        f"https://h/{quote(SECRET)}",
        base64.b64encode(SECRET.encode()).decode(),
        *(base64.b64encode(f"{'u' * n}:{SECRET}".encode()).decode() for n in range(3)),
        base64.urlsafe_b64encode(f"x{SECRET}yz".encode()).decode(),
    ]
    for text in written:
        masked = redact.redact(f"before {text} after")
        assert redact.MASK in masked, text
        assert not any(f in masked for f in redact.forms_of(SECRET)), (text, masked)


def test_mapping_keys_bytes_and_nesting() -> None:
    redact.register(SECRET)
    value = {SECRET: [{"k": (SECRET, 1, None, True)}], "b": SECRET.encode()}
    assert redact.redact(value) == {
        redact.MASK: [{"k": (redact.MASK, 1, None, True)}],
        "b": redact.MASK.encode(),
    }


def test_short_values_are_not_registered() -> None:
    redact.register("ab1")
    assert redact.redact("ab1 stays") == "ab1 stays"


def test_sqlite_parameters_are_redacted_and_lookups_still_match(tmp_path: Path) -> None:
    redact.register(SECRET)
    db = sqlite3.connect(tmp_path / "x.db", factory=redact.RedactingConnection)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (?, ?)", (f"key:{SECRET}", json.dumps({SECRET: SECRET})))
    db.executemany("INSERT INTO t VALUES (:k, :v)", [{"k": "other", "v": repr(SECRET)}])
    db.commit()
    row = db.execute("SELECT v FROM t WHERE k = ?", (f"key:{SECRET}",)).fetchone()
    assert row == (json.dumps({redact.MASK: redact.MASK}),)
    db.close()
    data = (tmp_path / "x.db").read_bytes()
    assert not any(f.encode() in data for f in redact.forms_of(SECRET))
