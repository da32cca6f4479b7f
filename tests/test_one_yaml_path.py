"""One YAML read path: only avflow.yamlfile (with avflow.yamlnodes, its node walker) imports
PyYAML, in the core and in every built-in plugin; nothing keeps a pickle cache
(`project.CompactWorkflow` marshals checked data in memory, never to a file).

Everything else reads a user's YAML through `avflow.yamlfile` (YAML 1.2, positions, size and
alias limits): a second reader would read ``on``/``no`` as booleans and report mistakes
without their line. Read with ``ast``: nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = {"src/avflow/yamlfile.py", "src/avflow/yamlnodes.py"}
BANNED = {"yaml", "ruamel", "pickle", "shelve", "dill"}


def _sources() -> list[Path]:
    return sorted([*ROOT.glob("src/**/*.py"), *ROOT.glob("plugins/*/src/**/*.py")])


def _imported(text: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_one_reader_imports_yaml_and_nothing_pickles() -> None:
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        banned = _imported(path.read_text(encoding="utf-8")) & BANNED
        if rel in READERS:
            banned -= {"yaml"}
        offenders += [f"{rel}: imports {name}" for name in sorted(banned)]
    assert not offenders, "\n".join(offenders)


def test_the_check_finds_an_import_anywhere() -> None:
    text = "def f():\n    import yaml.cyaml\n\nclass C:\n    from pickle import loads\n"
    assert _imported(text) == {"yaml", "pickle"}
    assert len(_sources()) > 100
