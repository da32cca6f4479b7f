"""``avflow next`` and ``avflow status``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sched_helpers import PLUGINS, cli, client, write

from avflow.clock import FakeClock
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service


@pytest.fixture
def rome(project: Path) -> Path:
    client(
        project,
        "acme",
        "Europe/Rome",
        'working_hours: {mon-fri: "09:00-13:00,14:00-18:00"}\nholidays: IT\n',
    )
    client(project, "nyc", "America/New_York")
    write(
        project / "workflows/acme/backup.yaml",
        'on: {schedule: {cron: "30 2 * * *"}}\nsteps: [{uses: core.log, with: {message: b}}]\n',
    )
    write(
        project / "workflows/acme/inbox.yaml",
        'name: Inbox triage\non:\n  schedule: [{cron: "*/30 * * * *"}]\n  when: working_hours\nsteps: [{uses: core.log, with: {message: i}}]\n',
    )
    write(
        project / "workflows/nyc/report.yaml",
        'on: {schedule: [{cron: "0 2 * * *"}, {cron: "0 9 * * 1"}]}\nsteps: [{uses: core.log, with: {message: r}}]\n',
    )
    return project


def test_next_on_a_dst_day_in_local_time(rome: Path) -> None:
    code, out = cli(rome, "next", "acme/backup", "--from", "2026-03-28", "--count", "3", "--json")
    assert code == 0, out
    times = [json.loads(line)["time"] for line in out.splitlines()]
    assert times == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    code, out = cli(rome, "next", "nyc", "--from", "2026-03-08T00:00:00-05:00", "-n", "3")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(
        "Sun 2026-03-08 03:00   EDT (-0400)  nyc/report"
    )  # 02:00 does not exist
    assert lines[1].startswith("Mon 2026-03-09 02:00   EDT (-0400)")
    assert lines[2].startswith("Mon 2026-03-09 09:00   EDT (-0400)")


def test_next_applies_gating_and_merges_clients(rome: Path) -> None:
    # Easter Monday 2026-04-06 is a holiday in Italy; Friday 2026-04-03 ends at 18:00
    code, out = cli(rome, "next", "acme/inbox", "--from", "2026-04-03T17:00", "-n", "3", "--json")
    assert code == 0, out
    assert [json.loads(line)["time"] for line in out.splitlines()] == [
        "2026-04-03T17:00:00+02:00",
        "2026-04-03T17:30:00+02:00",
        "2026-04-07T09:00:00+02:00",
    ]
    code, out = cli(rome, "next", "--from", "2026-04-07T08:00:00Z", "-n", "4", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["client"], r["workflow"], r["utc"]) for r in rows] == [
        ("acme", "inbox", "2026-04-07T08:00:00Z"),
        ("acme", "inbox", "2026-04-07T08:30:00Z"),
        ("acme", "inbox", "2026-04-07T09:00:00Z"),
        ("acme", "inbox", "2026-04-07T09:30:00Z"),
    ]


def test_next_bad_input_is_one_line_exit_2(rome: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avflow.cli import main

    for args, words in (
        (["next", "nobody"], "unknown client 'nobody'"),
        (["next", "acme/nothing"], "no workflow 'nothing'"),
        (["next", "--from", "yesterday"], "not an ISO time"),
        (["next", "--from", "9999-12-31T23:59"], "between 1900 and 9000"),
        (["next", "--from", "0001-01-01"], "between 1900 and 9000"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["--workflows", str(rome / "workflows"), "--home", str(rome / "home"), *args])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err


def test_status_heartbeat_failing_and_silent(
    rome: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        rome / "workflows/nyc/broken.yaml",
        'on: {schedule: {cron: "0 8 * * *"}}\nsteps: [{uses: fx.fail}]\n',
    )
    code, out = cli(rome, "status", fake_now="2026-03-02T15:00:00Z")
    assert code == 0 and "never started" in out
    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    Service(
        rome / "workflows", rome / "home", pm, clock=FakeClock("2026-03-02T13:00:10Z"), once=True
    ).run()
    code, out = cli(rome, "status", fake_now="2026-03-02T13:20:00Z")
    beat = datetime(2026, 3, 2, 13, 0, 10, tzinfo=UTC).astimezone()  # this machine's zone
    assert f"not running (stopped cleanly at {beat:%a %Y-%m-%d %H:%M:%S} {beat.tzname()})" in out
    code, out = cli(rome, "status", "--json", fake_now="2026-03-02T13:20:00Z")
    report = json.loads(out)
    assert (
        report["service"]["running"] is False
        and report["service"]["heartbeat"] == "2026-03-02T13:00:10Z"
    )
    by = {f"{w['client']}/{w['workflow']}": w for w in report["workflows"]}
    assert by["nyc/broken"]["flags"] == [
        "failing"
    ]  # 08:00 in New York is 13:00Z: it ran and failed
    assert by["acme/inbox"]["last_status"] == "succeeded" and by["acme/inbox"]["flags"] == []
    assert by["acme/inbox"]["next_local"] == "2026-03-02T14:30:00+01:00"
    # two days later, nothing has run since: the half-hourly inbox is silent, backup too
    code, out = cli(rome, "status", "--json", fake_now="2026-03-04T13:20:00Z")
    by = {f"{w['client']}/{w['workflow']}": w for w in json.loads(out)["workflows"]}
    assert "silent" in by["acme/inbox"]["flags"] and "silent" in by["acme/backup"]["flags"]
    Service(
        rome / "workflows", rome / "home", pm, clock=FakeClock("2026-03-04T13:00:30Z"), once=True
    ).run()
    code, out = cli(rome, "status", fake_now="2026-03-04T13:20:00Z")
    assert "need attention" in out
    line = next(line for line in out.splitlines() if "nyc/broken" in line)
    assert "FAILING" in line
