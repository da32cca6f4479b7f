"""The storage seams of docs/architecture.md: SQL text lives only in the classes that own their
tables, and only `avflow.ledger`, `ledger_tables` and `ledger_batch` name the effects tables
(issue 10: "nothing else in the core touches those tables"). Read with ``ast``: every string
constant of every module of src/ that reads as an SQL statement is found, wherever it stands.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SQL = re.compile(
    r"^\s*(SELECT\b.+\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(TABLE|INDEX|UNIQUE)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX))",
    re.DOTALL,  # upper case, as every statement of src/ is written: prose is not SQL
)
EFFECTS = re.compile(r"\b(effects|dry_effects|effects_v1)\b")
LEDGER = {"avflow/ledger.py", "avflow/ledger_tables.py", "avflow/ledger_batch.py"}
OWNERS = LEDGER | {
    "avflow/state.py",
    "avflow/approval_store.py",
    "avflow/scheduler/store.py",
    "avflow/dashboard/store.py",
}


def _statements(text: str) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]


def _found() -> dict[str, list[str]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        statements = _statements(path.read_text(encoding="utf-8"))
        if statements:
            out[path.relative_to(SRC).as_posix()] = statements
    return out


def test_sql_lives_only_in_the_storage_classes() -> None:
    stray = sorted(set(_found()) - OWNERS)
    assert stray == [], f"SQL outside the storage classes: {stray}"


def test_only_the_ledger_touches_the_effects_tables() -> None:
    touching = sorted(
        rel for rel, statements in _found().items() if any(EFFECTS.search(s) for s in statements)
    )
    assert touching == sorted(LEDGER)


def test_the_checks_find_sql() -> None:
    text = 'x = 1\ndef f(db):\n    db.execute("""\n  SELECT * FROM effects WHERE k = ?""")\n'
    assert _statements(text) == ["\n  SELECT * FROM effects WHERE k = ?"]
    assert _statements("s = 'Select the effects you want from the list'") == []
    assert _statements("q = 'INSERT OR IGNORE INTO runs VALUES (?)'") != []
    assert {"avflow/ledger.py", "avflow/state.py"} <= set(_found())
