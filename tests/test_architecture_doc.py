"""docs/architecture.md is the newcomer's map (issue 10): every module its "Where each concept
lives" table names exists and its docstring points back to the page, and no docstring of src/
points to a file outside the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "avflow"
PAGE = ROOT / "docs" / "architecture.md"


def _named() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    table = text[text.index("## Where each concept lives") :]
    return sorted({m for m in re.findall(r"`([a-z_/]+\.py)`", table) if not m.startswith("tests/")})


def _doc(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def test_every_module_the_page_names_exists_and_points_back() -> None:
    named = _named()
    assert len(named) > 30
    missing = [m for m in named if not (SRC / m).is_file()]
    assert missing == [], f"named by docs/architecture.md, not in src/avflow: {missing}"
    silent = [m for m in named if "docs/architecture.md" not in _doc(SRC / m)]
    assert silent == [], f"docstrings that do not point to docs/architecture.md: {silent}"


def test_no_docstring_points_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared|/work/")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node) or ""
                if outside.search(doc):
                    found.append(f"{path.relative_to(ROOT)}: {getattr(node, 'name', 'module')}")
    assert found == []
