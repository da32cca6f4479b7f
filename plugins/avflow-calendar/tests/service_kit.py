"""A real ``avflow run`` (the service) in a child process, on a shifted clock, its JSON log read;
and ``avflow`` commands in child processes: for the approval tests that SIGKILL the service."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}


def argv(workflows: Path, home: Path, start: str | None = None) -> list[str]:
    """``avflow`` with the installed plugins; ``start``: the service's clock starts there."""
    clock = f"ShiftedClock({start!r})" if start else "None"
    code = (
        "import sys; from avflow.cli import main; from avflow.clock import ShiftedClock; "
        f"sys.exit(main(clock={clock}))"
    )
    return [sys.executable, "-c", code, "--workflows", str(workflows), "--home", str(home)]


def avflow(workflows: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv(workflows, home), *args], capture_output=True, text=True, env=ENV, timeout=120
    )


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Service:
    """``avflow run`` in a child process; its JSON log lines collected."""

    def __init__(self, workflows: Path, home: Path, start: str) -> None:
        self.proc = subprocess.Popen(
            [*argv(workflows, home, start), "--log-json", "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.logs: list[dict[str, Any]] = []
        self.text: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.text.append(line)
            with contextlib.suppress(ValueError):
                self.logs.append(json.loads(line))

    def wait_log(self, event: str, timeout: float = 120, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError("service exited:\n" + "".join(self.text)[-3000:])
            for rec in list(self.logs):
                if rec.get("event") == event and all(rec.get(k) == v for k, v in match.items()):
                    return rec
            return None

        return wait_for(found, timeout, f"{event} {match}\n" + "".join(self.text)[-2000:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
