"""Running the ``avflow`` command in tests as a user's shell does; imported by name (``from
clikit import ...``: pytest's ``pythonpath`` holds tests/).

- `in_process`: `avflow.cli.main` in this process, its streams isolated by click: what the
  command prints and its exit code, fast;
- `child`: ``python -m avflow`` in a real child process, given only the environment it is
  handed (this process's, less ``drop``, plus ``env``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

AVFLOW = [sys.executable, "-m", "avflow"]


@dataclass
class Cli:
    """Exit code and output of one ``avflow`` command."""

    code: int
    out: str
    err: str


def folders(root: Path) -> list[str]:
    """``--workflows root/workflows --home root/home``."""
    return ["--workflows", str(root / "workflows"), "--home", str(root / "home")]


def in_process(*argv: str, stdin: str | None = None) -> Cli:
    """``avflow ARGV`` through `avflow.cli.main` in this process."""
    from avflow.cli import main

    with CliRunner().isolation(input=stdin) as streams:
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return Cli(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())


def child(
    *argv: str,
    env: Mapping[str, str] | None = None,
    drop: Iterable[str] = (),
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m avflow ARGV`` in a child process (text output captured)."""
    dropped = set(drop)
    full = {k: v for k, v in os.environ.items() if k not in dropped}
    full.update(env or {})
    return subprocess.run(
        [*AVFLOW, *argv],
        capture_output=True,
        text=True,
        env=full,
        input=stdin,
        cwd=cwd,
        timeout=timeout,
    )
