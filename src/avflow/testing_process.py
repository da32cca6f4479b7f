"""Real avflow processes for tests (exported by ``avflow.testing``): ``avflow run`` as a child
process to stop or SIGKILL (`ServiceProcess`), and one ``avflow`` command in a child process
(`command`). For plugin authors' crash and service tests, and avflow's own.

A child process loads the installed plugins (entry points) and, with ``plugins_dir``, the
plugins of that folder (``--plugins-dir``); plugin objects given to a `Harness` in the test
itself do not exist there. ``start`` starts the child's clock at that instant (ISO 8601, moving
at ``rate`` times real time): the service's cron triggers fire as they would then. See
docs/plugins.md ("Testing a plugin") and docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """``check()``'s first true value, polled every 50 ms; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def avflow_argv(
    workflows: Path,
    home: Path,
    *,
    start: str | None = None,
    rate: float = 1.0,
    plugins_dir: Path | None = None,
) -> list[str]:
    """The command line of ``avflow --workflows W --home H [--plugins-dir P] --log-json`` run by
    this interpreter, its clock starting at ``start`` when given; append the command."""
    clock = f"ShiftedClock({start!r}, {rate!r})" if start else "None"
    code = (
        "import sys; from avflow.cli import main; from avflow.clock import ShiftedClock; "
        f"sys.exit(main(clock={clock}))"
    )
    argv = [sys.executable, "-c", code, "--workflows", str(workflows), "--home", str(home)]
    if plugins_dir is not None:
        argv += ["--plugins-dir", str(plugins_dir)]
    return [*argv, "--log-json"]


def child_env(autoload: bool = True, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child, with installed plugins loaded or not."""
    base = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}
    if not autoload:
        base["AVFLOW_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return {**base, **(env or {})}


def command(
    workflows: Path,
    home: Path,
    *args: str,
    plugins_dir: Path | None = None,
    autoload: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``avflow ARGS`` in a child process: its exit code, stdout and stderr (text)."""
    argv = avflow_argv(workflows, home, plugins_dir=plugins_dir)
    return subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        env=child_env(autoload, env),
        timeout=timeout,
    )


class ServiceProcess:
    """``avflow run`` (or ``avflow ARGS``) in a child process, its JSON log lines collected in
    ``logs`` (and every stderr line in ``lines``). Use it as a context manager, or call `kill`."""

    def __init__(
        self,
        workflows: Path,
        home: Path,
        *args: str,
        start: str | None = None,
        rate: float = 1.0,
        plugins_dir: Path | None = None,
        autoload: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        argv = avflow_argv(workflows, home, start=start, rate=rate, plugins_dir=plugins_dir)
        self.cmd = [*argv, *(args or ("run",))]
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=child_env(autoload, env),
            text=True,
        )
        self.lines: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                self.logs.append(json.loads(line))

    def mark(self) -> int:
        """The position in the log: pass it as ``since`` to wait only for later lines."""
        return len(self.logs)

    def wait_log(
        self, event: str, timeout: float = 60.0, since: int = 0, **match: Any
    ) -> dict[str, Any]:
        """The first log record (from ``since``) with this event and these values."""

        def find() -> dict[str, Any] | None:
            for rec in list(self.logs)[since:]:
                if rec.get("event") == event and all(rec.get(k) == v for k, v in match.items()):
                    return rec
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"service exited ({self.proc.returncode}):\n{self.tail()}")
            return None

        try:
            return wait_for(find, timeout, f"log {event!r} {match}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tail()}") from None

    def count(self, event: str, **match: Any) -> int:
        return sum(
            1
            for r in list(self.logs)
            if r.get("event") == event and all(r.get(k) == v for k, v in match.items())
        )

    def tail(self, chars: int = 3000) -> str:
        return "".join(self.lines)[-chars:]

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` (SIGTERM: a clean stop) and wait for the exit code."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would (nothing is cleaned up); no-op once it has exited."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
