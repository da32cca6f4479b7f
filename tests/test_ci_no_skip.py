"""Under CI=true no test may skip (the root conftest.py): a skipped test fails, and so does a
module that skips as a whole while it is collected (the browser tests do when chromium is
missing), which pytest reports as a collection, not as a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SKIPPING = {
    "test_module_skip.py": (
        "import pytest\n"
        "pytest.skip('needs a browser', allow_module_level=True)\n"
        "def test_never_collected():\n"
        "    pass\n"
    ),
    "test_test_skip.py": ("import pytest\ndef test_skips():\n    pytest.skip('needs a server')\n"),
}


def pytest_run(tmp_path: Path, name: str, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(SKIPPING[name])
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path / name)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_fails_under_ci(tmp_path: Path, name: str) -> None:
    ran = pytest_run(tmp_path, name, "true")
    assert ran.returncode != 0, ran.stdout
    assert "skipped under CI=true, which is not allowed" in ran.stdout, ran.stdout
    assert "needs a" in ran.stdout  # the reason is kept


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_is_a_skip_outside_ci(tmp_path: Path, name: str) -> None:
    ran = pytest_run(tmp_path, name, "")
    assert ran.returncode in (0, 5), ran.stdout  # 5: a module skipped whole ran no test
    assert "1 skipped" in ran.stdout, ran.stdout
