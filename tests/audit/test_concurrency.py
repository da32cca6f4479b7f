"""Two clients' workflows running at once (threads, then separate processes) never mix records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avflow.testing import Harness

PLUGINS = Path(__file__).parent / "plugins"
CLIENTS = ("acme", "beta")
WORKFLOWS = ("inbox", "replies")
RECORDS_PER_RUN = 12  # run.started, 4 x (intent, done), note, step.finished, run.finished


def setup(h: Harness) -> None:
    for c in CLIENTS:
        h.client(c, name=c.title(), timezone="Europe/Rome", audit={"checkpoint_every": 7})
        for wf in WORKFLOWS:
            h.workflow(
                c,
                wf,
                {
                    "steps": [
                        {
                            "id": "triage",
                            "uses": "demo.mail",
                            "with": {"count": 2, "reply": True, "sender": f"desk@{c}.example"},
                        }
                    ]
                },
            )


def check_trails(h: Harness, cli: Callable[..., Any], runs_per_client: int) -> None:
    for c in CLIENTS:
        other = next(x for x in CLIENTS if x != c)
        lines = [
            x
            for p in sorted((h.home / "audit" / c).glob("2*.jsonl"))
            for x in p.read_bytes().splitlines()
        ]
        records = [json.loads(x) for x in lines]
        assert len(records) == runs_per_client * RECORDS_PER_RUN
        assert {r["client"] for r in records} == {c}
        assert not any(f"{other}.example".encode() in x for x in lines)
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        runs = {r["run"] for r in records}
        assert len(runs) == runs_per_client
        result = cli("audit", "verify", c)
        assert result.code == 0, result.out + result.err


def test_threads_two_clients_at_once(audit_harness: Harness, cli: Callable[..., Any]) -> None:
    h = audit_harness
    setup(h)
    engine = h.app.engine
    errors: list[BaseException] = []
    start = threading.Barrier(len(CLIENTS) * len(WORKFLOWS))

    def worker(ref: str) -> None:
        try:
            start.wait()
            for _ in range(8):
                outcome = engine.trigger(h.find(ref))
                assert outcome.status == "succeeded", outcome.error
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(f"{c}/{wf}",)) for c in CLIENTS for wf in WORKFLOWS
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    check_trails(h, cli, 8 * len(WORKFLOWS))


SCRIPT = """
import sys
from pathlib import Path
from avflow.app import App
from avflow.plugins import PluginManager
workflows, home, plugins, ref, n = sys.argv[1:]
app = App(Path(workflows), Path(home), PluginManager(autoload=False, plugins_dirs=[Path(plugins)]))
for _ in range(int(n)):
    outcome = app.engine.trigger(app.project.find(ref))
    assert outcome.status == "succeeded", outcome.error
"""


def test_processes_two_clients_and_two_writers_per_client(
    audit_harness: Harness, cli: Callable[..., Any]
) -> None:
    h = audit_harness
    setup(h)
    env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT,
                str(h.workflows),
                str(h.home),
                str(PLUGINS),
                f"{c}/{wf}",
                "10",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for c in CLIENTS
        for wf in WORKFLOWS
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    check_trails(h, cli, 10 * len(WORKFLOWS))
