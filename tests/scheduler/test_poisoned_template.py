"""A real ``avflow run``: one client's poisoned templates cannot hold up another client's
every-minute workflow, nor keep the service from stopping within 10 s of SIGTERM."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from sched_helpers import ServiceProc, client, runs, wait_for, write

RATE = 6.0  # simulated seconds per real second: a minute passes in 10 s

FREEZE = """\
on: {schedule: {cron: "* * * * *"}}
steps:
  - id: power
    uses: core.log
    with: {message: "{{ 10**(10**9) }}"}
"""
SLOW = """\
on: {schedule: {cron: "* * * * *"}}
steps:
  - id: loops
    uses: core.log
    with:
      message: "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
"""
TICK = """\
on: {schedule: {cron: "* * * * *"}}
steps:
  - uses: core.log
    with: {message: "tick {{ run.scheduled_at }}"}
"""


def _real(rec: dict[str, object]) -> float:
    return datetime.fromisoformat(str(rec["timestamp"]).replace("Z", "+00:00")).timestamp()


def test_poisoned_templates_do_not_delay_other_clients_or_the_stop(
    project: Path, services: list[ServiceProc]
) -> None:
    client(project, "alpha")
    client(project, "beta")
    write(project / "workflows/alpha/freeze.yaml", FREEZE)
    write(project / "workflows/alpha/slow.yaml", SLOW)
    write(project / "workflows/beta/tick.yaml", TICK)
    svc = ServiceProc(project, "run", fake_now="2026-03-02T09:00:30Z", rate=RATE)
    services.append(svc)
    svc.wait_log("service started")
    # three minutes of firings: beta's every-minute workflow runs at each, on time
    wait_for(
        lambda: [r["status"] for r in runs(project, "beta")][:3] == ["succeeded"] * 3,
        timeout=60,
        what="three ticks of beta",
    )
    ticks = [r for r in svc.logs if r.get("event") == "run started" and r.get("client") == "beta"]
    gaps = [b - a for a, b in pairwise(map(_real, ticks))]
    assert all(abs(gap - 60 / RATE) < 1.5 for gap in gaps), gaps  # one every simulated minute
    beta = runs(project, "beta")
    assert [r["status"] for r in beta[:3]] == ["succeeded"] * 3
    minutes = [datetime.fromisoformat(r["scheduled_at"]) for r in beta[:3]]
    assert [(b - a).total_seconds() for a, b in pairwise(minutes)] == [60, 60]
    # meanwhile alpha's runs fail, each on one line, each ending (none is left to resume)
    alpha = [r for r in runs(project, "alpha") if r["status"] == "failed"]
    assert {r["workflow"] for r in alpha} == {"freeze", "slow"}
    errors = {r["workflow"]: r["error"] for r in alpha}
    assert errors["freeze"] == "step power: template error: template power larger than 65,536 bits"
    # the first time after 3 s; later firings at once ("before: not rendered again")
    assert errors["slow"].startswith(
        "step loops: template error: template took longer than 3s to render"
    )
    # SIGTERM while a slow template is rendering: stopped within 10 s, cleanly
    since = svc.mark()
    svc.wait_log("run started", since=since, client="alpha", workflow="slow", timeout=30)
    time.sleep(0.5)
    started = time.monotonic()
    assert svc.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - started < 10
    assert "Traceback" not in "".join(svc.lines)
