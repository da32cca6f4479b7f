"""Helpers for the scheduler tests: a real ``avflow run`` subprocess, and workflow files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from avflow.testing import ServiceProcess
from avflow.testing import wait_for as wait_for  # the tests import it from here
from avflow.testing_process import avflow_argv

PLUGINS = Path(__file__).parent / "plugins"


def main_with_clock(start: str | None, rate: float = 1.0) -> str:
    """``python -c`` code running the avflow CLI with its clock starting at ``start`` (if given)."""
    return avflow_argv(Path("w"), Path("h"), start=start, rate=rate)[2]


class ServiceProc(ServiceProcess):
    """A real ``avflow ARGS`` process on ``root``'s folders with the test plugins, its JSON log
    lines collected (`avflow.testing.ServiceProcess`)."""

    def __init__(
        self,
        root: Path,
        *args: str,
        fake_now: str | None = None,
        rate: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        super().__init__(
            root / "workflows",
            root / "home",
            *args,
            start=fake_now,
            rate=rate,
            plugins_dir=PLUGINS,
            autoload=False,
            env=env,
        )


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
