"""Issue 10's structure, checked on the source (read with ``ast``; nothing is imported):

- one place, `avflow.app.App`, builds a process's object graph (state, vault, audit trail,
  effect ledger, engine); the command line, the service and `avflow.testing` go through it;
- production code has no test-only switch: no effect hook, no branch on a fake clock, no
  environment variable that moves time (tests inject a clock and a fault point into `App`);
- the core knows no mail: failure notifiers come from plugins (`register_notifiers`).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
GRAPH = {"State", "Vault", "AuditTrail", "EffectLedger", "Engine"}
MAIL = {"smtplib", "imaplib", "email", "poplib"}


def _trees() -> dict[str, ast.AST]:
    return {
        p.relative_to(SRC).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted(SRC.rglob("*.py"))
    }


def _ours(tree: ast.AST) -> set[str]:
    """Names bound to avflow's own objects: imported from avflow, or classes defined here (so
    Starlette's ``State`` in a dashboard module is not avflow's)."""
    names = {"avflow"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("avflow")
        ):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {
                a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("avflow")
            }
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
    return names


def _built(tree: ast.AST) -> set[str]:
    ours, names = _ours(tree), set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in GRAPH and f.id in ours:
            names.add(f.id)
        elif isinstance(f, ast.Attribute) and f.attr in GRAPH:
            root = f.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in ours:
                names.add(f.attr)
    return names


def test_only_app_builds_the_object_graph() -> None:
    built = {(rel, name) for rel, tree in _trees().items() for name in _built(tree)}
    assert {name for rel, name in built if rel == "avflow/app.py"} == GRAPH
    assert {b for b in built if b[0] != "avflow/app.py"} == set()
    users = {"avflow/cli/__init__.py", "avflow/scheduler/service.py", "avflow/testing.py"}
    for rel in users:
        calls = [
            n
            for n in ast.walk(_trees()[rel])
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "App"
        ]
        assert calls, f"{rel} does not build its App"


def test_no_test_only_switch_in_production_code() -> None:
    found = []
    for rel, tree in _trees().items():
        for node in ast.walk(tree):
            name = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else node.arg
                if isinstance(node, ast.arg)
                else ""
            )
            if name == "effect_hook":
                found.append(f"{rel}: effect_hook")
            if name == "FakeClock" and rel not in ("avflow/clock.py", "avflow/testing.py"):
                found.append(f"{rel}: FakeClock")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if text.startswith("AVFLOW_") and any(
                    w in text for w in ("TIME", "NOW", "CLOCK", "FAKE", "DATE")
                ):
                    found.append(f"{rel}: {text}")
    assert found == []


def test_the_core_knows_no_mail() -> None:
    found = []
    for rel, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{rel}: {a.name}" for a in node.names if a.name.split(".")[0] in MAIL]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found += [f"{rel}: {node.module}"] if node.module.split(".")[0] in MAIL else []
    assert found == []


def test_the_checks_can_fail() -> None:
    tree = ast.parse(
        "from avflow.vault import Vault\nfrom starlette.datastructures import State\n"
        "def f(s):\n    return avflow.engine.Engine(s), Vault(s), State()\n"
    )
    assert _built(tree) == {"Engine", "Vault"}
