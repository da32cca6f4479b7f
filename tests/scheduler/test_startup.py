"""The service's start-up: the demo's first pass, the plain-words lines, one "next" for all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from sched_helpers import PLUGINS, audit, cli, client, runs, write

from avflow.clock import FakeClock
from avflow.errors import ConfigErrors
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service

SATURDAY_NIGHT = "2026-12-05T22:30:00Z"  # 23:30 in Rome


@pytest.fixture
def demo(project: Path) -> Path:
    client(
        project,
        "acme",
        "Europe/Rome",
        'working_hours: {mon-fri: "09:00-13:00,14:00-18:00"}\nholidays: IT\n',
    )
    write(
        project / "workflows/acme/inbox.yaml",
        'on:\n  schedule: [{cron: "*/10 * * * *"}]\n  when: working_hours\n'
        "steps: [{uses: core.log, with: {message: inbox}}]\n",
    )
    write(
        project / "workflows/acme/report.yaml",
        'on: {schedule: {cron: "0 10 * * mon"}}\nsteps: [{uses: core.log, with: {message: r}}]\n',
    )
    write(project / "workflows/demo.yaml", "# a demo\nfirst_pass: true\n")
    return project


def start(root: Path, now: str = SATURDAY_NIGHT) -> tuple[int, list[dict[str, object]]]:
    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    svc = Service(root / "workflows", root / "home", pm, clock=FakeClock(now), once=True)
    with structlog.testing.capture_logs() as logs:
        code = svc.run()
    return code, logs


def said(logs: list[dict[str, object]]) -> list[str]:
    return [str(e["said"]) for e in logs if "said" in e]


def test_the_demo_runs_each_workflow_once_on_the_first_start(demo: Path) -> None:
    code, logs = start(demo)
    assert code == 0
    rows = runs(demo)
    assert sorted((r["workflow"], r["trigger"], r["status"]) for r in rows) == [
        ("inbox", "demo", "succeeded"),  # gated to working hours, run all the same
        ("report", "demo", "succeeded"),
    ]
    started = [r for r in audit(demo, "acme") if r["event"] == "run.started"]
    assert {r["details"]["trigger"] for r in started} == {"demo"}
    lines = said(logs)
    assert lines[0].startswith("loaded 1 client and 2 workflows (2 scheduled)")
    nxt = "next: acme/inbox Mon 09:00 CET (Rome) — outside working hours until then"
    assert lines[1] == nxt
    assert lines[2].startswith("demo first pass: running each of the 2 workflows once now")
    assert lines[-2:] == ["demo first pass done: 2 succeeded", nxt]

    code, logs = start(demo, "2026-12-05T22:40:00Z")  # the home remembers: no second pass
    assert code == 0 and len(runs(demo)) == 2
    assert not any("demo first pass" in line for line in said(logs))


def test_no_demo_file_no_first_pass(demo: Path) -> None:
    (demo / "workflows/demo.yaml").unlink()
    code, _ = start(demo)
    assert code == 0 and runs(demo) == []


def test_a_mistake_in_demo_yaml_names_its_line(
    demo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from avflow.cli import main

    monkeypatch.setenv("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")  # the test's plugins only

    write(demo / "workflows/demo.yaml", "# a demo\nfirst_pass: maybe\n")
    with pytest.raises(ConfigErrors) as exc:
        start(demo)
    assert "demo.yaml:2" in str(exc.value)
    with pytest.raises(SystemExit) as stop:
        main(
            ["--workflows", str(demo / "workflows"), "--home", str(demo / "home"), "run", "--once"]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "demo.yaml:2" in err[0], err
    assert runs(demo) == []


def test_status_next_and_the_start_up_line_agree(demo: Path) -> None:
    (demo / "workflows/demo.yaml").unlink()
    _, logs = start(demo)
    line = next(str(e["said"]) for e in logs if e.get("event") == "next firing")
    code, out = cli(demo, "next", "acme/inbox", "-n", "1", "--json", fake_now=SATURDAY_NIGHT)
    assert code == 0
    first = json.loads(out)["time"]
    code, out = cli(demo, "status", "--json", fake_now=SATURDAY_NIGHT)
    inbox = next(w for w in json.loads(out)["workflows"] if w["workflow"] == "inbox")
    assert first == inbox["next_local"] == "2026-12-07T09:00:00+01:00"
    assert inbox["next_skips"] == "outside working hours"
    assert line.startswith("next: acme/inbox Mon 09:00 CET (Rome)")
    code, out = cli(demo, "status", fake_now=SATURDAY_NIGHT)
    row = next(r for r in out.splitlines() if "acme/inbox" in r)
    assert "next: Mon 2026-12-07 09:00 CET (outside working hours until then)" in row
    code, out = cli(demo, "--utc", "status", fake_now=SATURDAY_NIGHT)
    assert "next: Mon 2026-12-07 08:00 UTC" in out


def test_runs_in_local_time_with_a_dry_run_column(demo: Path) -> None:
    assert cli(demo, "trigger", "acme/report", "--dry-run")[0] == 0
    assert cli(demo, "trigger", "acme/report")[0] == 0
    code, out = cli(demo, "runs")
    assert code == 0
    lines = [line for line in out.splitlines() if "acme/report" in line]
    assert len(lines) == 2 and all(" CET " in line for line in lines), out
    assert [" dry " in line for line in lines] == [False, True], out  # newest first
    code, out = cli(demo, "runs", "--utc")
    assert all(" UTC " in line for line in out.splitlines() if "acme/report" in line), out
