"""The service in this process: concurrency limits, overlap, gating records, event triggers."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sched_helpers import PLUGINS, audit, client, runs, wait_for, write

from avflow.clock import Clock, FakeClock
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service
from avflow.scheduler.settings import ServiceSettings


def pm() -> PluginManager:
    return PluginManager(autoload=False, plugins_dirs=[PLUGINS])


def service(root: Path, clock: Clock, **kw: object) -> Service:
    settings = ServiceSettings.model_validate(kw.pop("settings", {}))
    return Service(root / "workflows", root / "home", pm(), clock=clock, settings=settings, **kw)  # type: ignore[arg-type]


def max_overlap(rows: list[dict[str, object]], key: str | None = None) -> int:
    """Most runs at once, from the runs' own start and finish times."""
    edges = []
    for r in rows:
        if key is None or r["client"] == key:
            edges += [
                (datetime.fromisoformat(str(r["started_at"])), 1),
                (datetime.fromisoformat(str(r["finished_at"])), -1),
            ]
    level = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


def test_global_and_per_client_limits(project: Path) -> None:
    for c in ("acme", "bravo", "coop"):
        client(project, c)
        for i in range(3):
            write(
                project / f"workflows/{c}/w{i}.yaml",
                f'on: {{schedule: {{cron: "0 9 * * *"}}}}\nsteps: [{{uses: fx.write, with: {{path: {project}/out-{c}-{i}, lines: 1, sleep: 1.0}}}}]\n',
            )
    svc = service(
        project,
        FakeClock("2026-03-02T09:00:10Z"),
        once=True,
        settings={"concurrency": {"max_runs": 4, "max_runs_per_client": 2}},
    )
    assert svc.run() == 0
    rows = runs(project)
    assert len(rows) == 9 and all(r["status"] == "succeeded" for r in rows)
    assert max_overlap(rows) == 4
    assert max(max_overlap(rows, c) for c in ("acme", "bravo", "coop")) == 2


def test_a_firing_while_the_workflow_runs_is_skipped_and_recorded(project: Path) -> None:
    client(project, "acme")
    pause = project / "pause"
    pause.write_text("1")
    write(
        project / "workflows/acme/slow.yaml",
        f'on: {{schedule: {{cron: "* * * * *"}}}}\nsteps: [{{uses: fx.write, with: {{path: {project}/out, lines: 1, pause: {pause}, pause_at: 0}}}}]\n',
    )
    clock = FakeClock("2026-03-02T09:00:30Z")
    svc = service(project, clock, watch=False)
    t = threading.Thread(target=svc.run)
    t.start()
    try:
        # the 09:01 run holds at its first effect; simulated time stands still while it runs
        wait_for(Path(f"{pause}.reached").exists, 20, "the 09:01 run to start")
        assert clock.now() == datetime.fromisoformat("2026-03-02T09:01:00+00:00")
        clock.advance(60)  # the 09:02 firing comes due while 09:01 still runs
        svc.waker.wake()
        wait_for(
            lambda: any(r.get("event") == "run.skipped" for r in audit(project, "acme")),
            20,
            "an overlap",
        )
        pause.unlink()
        wait_for(
            lambda: [r for r in runs(project) if r["status"] == "succeeded"], 20, "the 09:01 run"
        )
    finally:
        pause.unlink(missing_ok=True)
        svc.stop()
        t.join(30)
    assert not t.is_alive()
    skipped = [r for r in audit(project, "acme") if r["event"] == "run.skipped"]
    assert skipped[0]["details"]["reason"] == "overlap"
    assert skipped[0]["details"]["scheduled_at"] == "2026-03-02T09:02:00Z"
    done = [r for r in runs(project) if r["status"] == "succeeded"]
    assert done[0]["scheduled_at"] == "2026-03-02T09:01:00+00:00" and max_overlap(done) == 1
    assert "2026-03-02T09:02:00+00:00" not in {r["scheduled_at"] for r in runs(project)}


def test_gated_firings_are_recorded_not_queued(project: Path) -> None:
    client(
        project,
        "acme",
        "Europe/Rome",
        'working_hours: {mon-fri: "09:00-13:00,14:00-18:00"}\nholidays: IT\nclosed: ["2026-08-10/2026-08-14"]\n',
    )
    write(
        project / "workflows/acme/inbox.yaml",
        'on:\n  schedule: [{cron: "0 * * * *"}]\n  when: working_hours\nsteps: [{uses: core.log, with: {message: hi}}]\n',
    )
    # Monday 2026-03-02 in Rome: hours 09-12 and 14-17 run; 13 and 18..23 are gated
    clock = FakeClock("2026-03-02T07:59:00Z")
    svc = service(project, clock, watch=False)
    t = threading.Thread(target=svc.run)
    t.start()
    try:
        wait_for(
            lambda: clock.now() >= datetime.fromisoformat("2026-03-02T22:30:00+00:00"),
            60,
            "the day to pass",
        )
    finally:
        svc.stop()
        t.join(30)
    rome = ZoneInfo("Europe/Rome")

    def local(iso: str) -> datetime:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(rome)

    ran = [local(r["scheduled_at"]) for r in runs(project)]
    assert [t.hour for t in ran if t.day == 2] == [9, 10, 11, 12, 14, 15, 16, 17]
    gated = [r for r in audit(project, "acme") if r["event"] == "run.gated"]
    assert {r["details"]["reason"] for r in gated} == {"outside working hours"}
    assert [
        local(r["details"]["scheduled_at"]).hour
        for r in gated
        if local(r["details"]["scheduled_at"]).day == 2
    ] == [13, 18, 19, 20, 21, 22, 23]
    assert "not run at 2026-03-02T13:00:00+01:00" in gated[0]["description"]


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2026-04-06", "public holiday (Easter Monday)"),
        ("2026-08-12", "closed (2026-08-10 to 2026-08-14)"),
    ],
)
def test_holidays_and_closed_dates_gate(project: Path, day: str, reason: str) -> None:
    from avflow.loader import Loader
    from avflow.scheduler.planner import job_for

    client(project, "acme", "Europe/Rome", 'holidays: IT\nclosed: ["2026-08-10/2026-08-14"]\n')
    write(
        project / "workflows/acme/w.yaml",
        'on:\n  schedule: [{cron: "0 10 * * *"}]\n  when: working_hours\nsteps: [{uses: core.log, with: {message: hi}}]\n',
    )
    proj, errors = Loader(pm().registry).load(project / "workflows")
    assert not errors
    job = job_for(proj.clients["acme"], proj.clients["acme"].workflows["w"])
    assert job is not None and job.gate is not None
    assert job.gate.reason(datetime.fromisoformat(f"{day}T10:00:00+02:00")) == reason
    assert job.gate.reason(datetime.fromisoformat("2026-04-07T10:00:00+02:00")) is None


def test_event_triggers_fire_runs_and_stop_on_shutdown(project: Path) -> None:
    client(project, "acme")
    drop = project / "drop"
    write(
        project / "workflows/acme/on_drop.yaml",
        f"on:\n  events: [{{uses: fx.tick, with: {{path: {drop}}}}}]\n"
        "steps: [{uses: core.log, with: {message: 'got {{ run.event.text }}'}}]\n",
    )
    svc = service(project, Clock(), watch=False)
    t = threading.Thread(target=svc.run)
    t.start()
    try:
        assert svc.ready.wait(20)
        drop.write_text("first")
        wait_for(
            lambda: [r for r in runs(project) if r["status"] == "succeeded"], 20, "the event's run"
        )
    finally:
        svc.stop()
        t.join(30)
    assert not t.is_alive()
    [row] = runs(project)
    assert row["trigger"] == "fx.tick" and '"first"' in row["event"]
    assert not svc.triggers.watchers  # every trigger thread stopped
    notes = [r["description"] for r in audit(project, "acme") if r["event"] == "step.note"]
    assert notes == ["got first"]
