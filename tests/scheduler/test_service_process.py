"""A real ``avflow run`` process: crash and restart, downtime catch-up, signals, one per home."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from sched_helpers import (
    ServiceProc,
    audit,
    cli,
    client,
    main_with_clock,
    runs,
    wait_for,
    write,
)

WRITE_WF = """\
name: Write lines
on:
  schedule:
    - cron: "0 9 * * *"
steps:
  - id: write
    uses: fx.write
    with:
      path: {out}
      lines: 4
      pause: {pause}
      pause_at: 1
      inside: true
"""


def test_sigkill_mid_effect_then_restart_completes_the_run_once(
    project: Path, services: list[ServiceProc]
) -> None:
    out, pause = project / "out.txt", project / "pause"
    client(project, "acme")
    write(project / "workflows/acme/write.yaml", WRITE_WF.format(out=out, pause=pause))
    pause.touch()
    svc = ServiceProc(project, "run", fake_now="2026-03-02T08:59:58Z")
    services.append(svc)
    wait_for(lambda: Path(f"{pause}.reached").exists(), 30, "the action to pause inside effect 1")
    svc.kill()  # SIGKILL: effect 1 written, its outcome not recorded
    assert out.read_text().splitlines() == [
        "acme/write@2026-03-02T09:00:00Z 0",
        "acme/write@2026-03-02T09:00:00Z 1",
    ]
    [row] = runs(project)
    assert row["status"] == "running"
    code, text = cli(project, "status")
    assert code == 0 and "did not stop cleanly" in text
    pause.unlink()
    svc2 = ServiceProc(project, "run", fake_now="2026-03-02T09:00:40Z")
    services.append(svc2)
    svc2.wait_log("interrupted run finished", status="succeeded")
    svc2.wait_log("service started")
    assert svc2.stop() == 0
    key = "acme/write@2026-03-02T09:00:00Z"
    assert out.read_text().splitlines() == [
        f"{key} {i}" for i in range(4)
    ]  # every effect exactly once
    [row] = runs(project)
    assert (row["key"], row["status"]) == (key, "succeeded")
    events = [r["event"] for r in audit(project, "acme") if r.get("run") == row["id"]]
    assert events.count("run.started") == 1 and events.count("run.resumed") == 1
    assert events.count("effect.reconciled") == 1  # effect 1 was found done, not performed again
    assert events.count("effect.done") == 3  # effects 0, 2, 3; effect 1 was reconciled


CATCH_UP = {
    "latest": 'cron: "0 * * * *"\n  catch_up: latest',
    "all": 'cron: "0 */6 * * *"\n  catch_up: all\n  grace: 4d',
    "bounded": 'cron: "0 * * * *"\n  catch_up: all\n  max_catch_up: 5',
    "none": 'cron: "30 * * * *"\n  catch_up: none',
    "old": 'cron: "0 12 * * *"\n  catch_up: latest\n  grace: 1h',
}


def test_72_hours_of_downtime_catch_up_per_policy(
    project: Path, services: list[ServiceProc]
) -> None:
    client(project, "acme")
    for name, on in CATCH_UP.items():
        sched, _, rest = on.partition("\n")
        write(
            project / f"workflows/acme/{name}.yaml",
            f"on:\n  schedule:\n    - {sched}\n{rest}\nsteps:\n  - uses: core.log\n    with: {{message: {name}}}\n",
        )
    svc = ServiceProc(project, "run", fake_now="2026-03-02T10:05:00Z")
    services.append(svc)
    svc.wait_log("service started")
    assert svc.stop() == 0
    assert runs(project) == []
    # 72 hours later
    svc = ServiceProc(project, "run", fake_now="2026-03-05T10:05:00Z")
    services.append(svc)
    wait_for(
        lambda: len([r for r in runs(project) if r["status"] == "succeeded"]) >= 18,
        60,
        "18 catch-up runs",
    )
    assert svc.stop(signal.SIGINT) == 0
    by_wf: dict[str, list[str]] = {}
    for r in runs(project):
        assert r["status"] == "succeeded" and r["trigger"] == "schedule"
        by_wf.setdefault(r["workflow"], []).append(r["scheduled_at"][:16])
    assert by_wf["latest"] == ["2026-03-05T10:00"]
    assert (
        by_wf["all"]
        == [f"2026-03-0{d}T{h:02d}:00" for d in (2, 3, 4, 5) for h in (0, 6, 12, 18)][2:-2]
    )
    assert by_wf["bounded"] == [
        f"2026-03-05T{h:02d}:00" for h in range(6, 11)
    ]  # the last 5, in order
    assert "none" not in by_wf and "old" not in by_wf  # old: the last firing is beyond its 1h grace
    missed = {
        r["workflow"]: r["details"] for r in audit(project, "acme") if r["event"] == "run.missed"
    }
    assert missed["none"]["policy"] == "none" and missed["none"]["not_run"] == 24
    assert missed["old"]["older_than_grace"] is True
    assert missed["bounded"]["not_run"] == 19  # 24 within the 1-day grace, 5 run


def test_sigterm_and_a_second_service_on_the_same_home(
    project: Path, services: list[ServiceProc]
) -> None:
    client(project, "acme")
    write(
        project / "workflows/acme/w.yaml",
        'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: core.log, with: {message: hi}}]\n',
    )
    svc = ServiceProc(project, "run")
    services.append(svc)
    svc.wait_log("service started")
    second = subprocess.run(
        svc.cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert second.returncode == 2
    err = second.stderr.strip().splitlines()
    assert len(err) == 1 and "already running" in err[0] and str(project / "home") in err[0], (
        second.stderr
    )
    assert svc.stop(signal.SIGTERM) == 0
    svc.wait_log("service stopped")
    assert "Traceback" not in "".join(svc.lines)


def test_run_once_runs_what_is_due_and_exits(project: Path) -> None:
    out = project / "out.txt"
    client(project, "acme")
    write(
        project / "workflows/acme/write.yaml", WRITE_WF.format(out=out, pause=project / "nopause")
    )
    write(
        project / "workflows/acme/fail.yaml",
        'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: fx.fail}]\n',
    )
    write(
        project / "workflows/acme/later.yaml",
        'on: {schedule: {cron: "0 10 * * *"}}\nsteps: [{uses: core.log, with: {message: hi}}]\n',
    )
    cmd = ServiceProc.__new__(ServiceProc)
    args = [
        sys.executable,
        "-c",
        main_with_clock("2026-03-02T09:00:20Z"),
        "--workflows",
        str(project / "workflows"),
        "--home",
        str(project / "home"),
        "--plugins-dir",
        str(Path(__file__).parent / "plugins"),
        "run",
        "--once",
    ]
    env = {
        **__import__("os").environ,
        "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1, done.stderr  # fail.yaml failed
    assert sorted((r["workflow"], r["status"]) for r in runs(project)) == [
        ("fail", "failed"),
        ("write", "succeeded"),
    ]
    assert len(out.read_text().splitlines()) == 4
    again = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == 0, again.stderr  # nothing new is due: nothing runs twice
    assert len(runs(project)) == 2
    del cmd


def start_paused_run(
    project: Path, services: list[ServiceProc], stop_timeout: str
) -> tuple[ServiceProc, Path, Path]:
    """A service whose run is paused between its effects (until ``pause`` is removed)."""
    out, pause = project / "out.txt", project / "pause"
    client(project, "acme")
    write(
        project / "workflows/acme/write.yaml",
        WRITE_WF.format(out=out, pause=pause).replace("inside: true", "inside: false"),
    )
    write(project / "home/service.yaml", f"stop_timeout: {stop_timeout}\n")
    pause.touch()
    svc = ServiceProc(project, "run", fake_now="2026-03-02T08:59:58Z")
    services.append(svc)
    wait_for(lambda: Path(f"{pause}.reached").exists(), 30, "the run to pause")
    return svc, out, pause


def test_sigterm_lets_a_running_run_finish_within_stop_timeout(
    project: Path, services: list[ServiceProc]
) -> None:
    svc, out, pause = start_paused_run(project, services, "20s")
    svc.send(signal.SIGTERM)
    svc.wait_log("service stopping")
    assert svc.proc.poll() is None  # waiting for the running run
    pause.unlink()
    assert svc.proc.wait(30) == 0
    [row] = runs(project)
    assert row["status"] == "succeeded" and len(out.read_text().splitlines()) == 4


def test_a_run_longer_than_stop_timeout_resumes_at_the_next_start(
    project: Path, services: list[ServiceProc]
) -> None:
    svc, out, pause = start_paused_run(project, services, "0.5s")
    assert svc.stop() == 0
    assert [r["status"] for r in runs(project)] == ["running"]
    pause.unlink()
    svc = ServiceProc(project, "run", fake_now="2026-03-02T09:05:00Z")
    services.append(svc)
    svc.wait_log("interrupted run finished", status="succeeded")
    assert svc.stop() == 0
    [row] = runs(project)
    assert row["status"] == "succeeded"
    assert out.read_text().splitlines() == [
        f"acme/write@2026-03-02T09:00:00Z {i}" for i in range(4)
    ]


def test_a_second_stop_signal_exits_at_once(project: Path, services: list[ServiceProc]) -> None:
    pause = project / "pause"
    client(project, "acme")
    write(
        project / "workflows/acme/write.yaml",
        WRITE_WF.format(out=project / "out.txt", pause=pause).replace(
            "inside: true", "inside: false"
        ),
    )
    pause.touch()
    svc = ServiceProc(project, "run", fake_now="2026-03-02T08:59:58Z")
    services.append(svc)
    wait_for(lambda: Path(f"{pause}.reached").exists(), 30, "the run to pause")
    svc.send(signal.SIGINT)
    svc.wait_log("service stopping")
    assert svc.stop(signal.SIGINT, timeout=10) == 130  # did not wait the 30 s stop_timeout
    assert [r["status"] for r in runs(project)] == ["running"]  # resumed at the next start


def test_run_refuses_to_start_on_a_broken_workflow(project: Path) -> None:
    client(project, "acme")
    bad = write(
        project / "workflows/acme/bad.yaml",
        'on: {schedule: {cron: "61 * * * *"}}\nsteps: [{uses: core.log, with: {message: x}}]\n',
    )
    args = [
        sys.executable,
        "-c",
        "import sys; from avflow.cli import main; sys.exit(main())",
        "--workflows",
        str(project / "workflows"),
        "--home",
        str(project / "home"),
        "run",
    ]
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert done.returncode == 2
    assert (
        done.stderr.startswith(f"{bad}:1:")
        and "invalid cron expression '61 * * * *'" in done.stderr
    )
    assert "Traceback" not in done.stderr
