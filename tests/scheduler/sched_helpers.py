"""Helpers for the scheduler tests: a real ``avflow run`` subprocess, and workflow files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PLUGINS = Path(__file__).parent / "plugins"


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def main_with_clock(start: str | None, rate: float = 1.0) -> str:
    """``python -c`` code running the avflow CLI with its clock starting at ``start`` (if given)."""
    clock = f"ShiftedClock({start!r}, {rate!r})" if start else "None"
    return (
        "import sys; from avflow.cli import main; from avflow.clock import ShiftedClock; "
        f"sys.exit(main(clock={clock}))"
    )


class ServiceProc:
    """A real ``avflow run`` process with its JSON log lines collected."""

    def __init__(
        self,
        root: Path,
        *args: str,
        fake_now: str | None = None,
        rate: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        full_env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
        self.cmd = [
            sys.executable,
            "-c",
            main_with_clock(fake_now, rate),
            "--workflows",
            str(root / "workflows"),
            "--home",
            str(root / "home"),
            "--plugins-dir",
            str(PLUGINS),
            "--log-json",
            *args,
        ]
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env, text=True
        )
        self.lines: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

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
        self, event: str, timeout: float = 20.0, since: int = 0, **match: Any
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for rec in list(self.logs)[since:]:
                if rec.get("event") == event and all(rec.get(k) == v for k, v in match.items()):
                    return rec
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(
                    f"service exited ({self.proc.returncode}):\n{''.join(self.lines)[-3000:]}"
                )
            return None

        try:
            return wait_for(find, timeout, f"log {event!r} {match}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{''.join(self.lines)[-3000:]}") from None

    def count(self, event: str, **match: Any) -> int:
        return sum(
            1
            for r in list(self.logs)
            if r.get("event") == event and all(r.get(k) == v for k, v in match.items())
        )

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def client(root: Path, cid: str, timezone: str = "UTC", extra: str = "") -> None:
    write(
        root / "workflows" / cid / "client.yaml",
        f"name: {cid.title()}\ntimezone: {timezone}\n{extra}",
    )


def runs(
    root: Path, client: str | None = None, workflow: str | None = None
) -> list[dict[str, Any]]:
    db = root / "home" / "state.db"
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if client:
            sql += " AND client = ?"
            args.append(client)
        if workflow:
            sql += " AND workflow = ?"
            args.append(workflow)
        return [dict(r) for r in con.execute(sql + " ORDER BY scheduled_at, created_at", args)]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def audit(root: Path, cid: str) -> list[dict[str, Any]]:
    out = []
    for f in sorted((root / "home" / "audit" / cid).glob("*.jsonl")):
        out += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return [r for r in out if "event" in r]  # leave checkpoints out


def cli(project: Path, *args: str, fake_now: str | None = None) -> tuple[int, str]:
    """An ``avflow`` command run in this process (click's runner): exit code and output."""
    from click.testing import CliRunner

    from avflow.cli import build_cli
    from avflow.clock import ShiftedClock
    from avflow.plugins import PluginManager

    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    clock = ShiftedClock(fake_now) if fake_now else None
    result = CliRunner().invoke(
        build_cli(pm, clock),
        ["--workflows", str(project / "workflows"), "--home", str(project / "home"), *args],
    )
    return result.exit_code, result.output
