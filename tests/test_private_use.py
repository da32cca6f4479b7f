"""No private attribute of a dependency, in the core or in the built-in plugins (issue 10).

A name read as ``x._name`` (or imported from a module path with a ``_part``) that the
repository itself never defines belongs to someone else. The few left are each pinned below the
dependency's next release in a pyproject.toml, with a test that fails the day they change.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN = ("avflow", "avflow_")

PINNED = {
    "_exit": "os._exit: public and documented, despite its name",
    "watchfiles._rust_notify": "watchfiles <2; tests/scheduler/test_watch_backend.py",
    "_request": "paramiko <6 (SFTPClient._request); avflow-archive tests/test_sftp.py",
    "_imap": "imapclient <4.2 (IMAPClient._imap); avflow-email tests/test_imap.py",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _foreign_private(node: ast.ImportFrom) -> bool:
    module = node.module or ""
    own = node.level > 0 or module.startswith(OWN)
    return not own and any(map(_private, module.split(".")))


def _scan(trees: dict[str, ast.AST]) -> list[tuple[str, int, str]]:
    """Private names used and not defined anywhere in `trees`: (file, line, name)."""
    defined: set[str] = set()
    used: list[tuple[str, int, str]] = []
    for rel, tree in trees.items():
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(n.name)
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                defined.add(n.id)
            elif isinstance(n, ast.arg):
                defined.add(n.arg)
            elif isinstance(n, ast.Attribute):
                if isinstance(n.ctx, ast.Store):
                    defined.add(n.attr)
                elif _private(n.attr):
                    used.append((rel, n.lineno, n.attr))
            elif isinstance(n, ast.ImportFrom) and _foreign_private(n):
                used.append((rel, n.lineno, str(n.module)))
    return [u for u in used if u[2] not in defined]


def _trees() -> dict[str, ast.AST]:
    roots = [ROOT / "src", *(p / "src" for p in sorted((ROOT / "plugins").iterdir()))]
    files = [f for r in roots if r.is_dir() for f in sorted(r.rglob("*.py"))]
    return {str(f.relative_to(ROOT)): ast.parse(f.read_text(encoding="utf-8")) for f in files}


def test_no_private_attribute_of_a_dependency_in_src_or_plugins() -> None:
    found = [u for u in _scan(_trees()) if u[2] not in PINNED]
    assert found == [], "use the dependency's public API, or pin it and test it: " + repr(found)


def test_every_pinned_exception_is_still_used() -> None:
    assert {u[2] for u in _scan(_trees())} >= set(PINNED)


def test_the_scan_sees_a_dependencys_private_attribute() -> None:
    code = (
        "from lib._impl import X\n"
        "class A:\n    def __init__(self):\n        self._mine = 1\n"
        "def f(exc, a):\n    return exc._get_reason(), a._mine, a.__dict__\n"
    )
    assert _scan({"m.py": ast.parse(code)}) == [
        ("m.py", 1, "lib._impl"),
        ("m.py", 6, "_get_reason"),
    ]
