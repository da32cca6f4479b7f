"""A real ``avflow run`` killed with SIGKILL while a run waits for approval, restarted, and the
approval given from another process (``avflow approve``): the run finishes, its effects once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from avflow.testing import ServiceProcess, command

PLUGINS = Path(__file__).parent / "plugins_dir"

WORKFLOW = """\
name: Publish the post
on:
  schedule:
    - cron: "0 9 * * *"
steps:
  - id: check
    uses: core.approval
    with:
      summary: "Publish the winter sale post?"
  - id: publish
    uses: crashy.write
    with: {{ folder: "{out}", count: 2, prefix: post }}
"""


def start_service(root: Path, start: str, env: dict[str, str] | None = None) -> ServiceProcess:
    return ServiceProcess(
        root / "workflows", root / "home", start=start, plugins_dir=PLUGINS, autoload=False, env=env
    )


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for svc in started:
        if svc.proc.poll() is None:
            svc.proc.kill()
            svc.proc.wait(10)


def query(root: Path, sql: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(root / "home" / "state.db", timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()


def avflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return command(root / "workflows", root / "home", *args, plugins_dir=PLUGINS, autoload=False)


def project(root: Path) -> Path:
    out = root / "out"
    (root / "workflows" / "acme").mkdir(parents=True)
    (root / "workflows" / "acme" / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    (root / "workflows" / "acme" / "post.yaml").write_text(WORKFLOW.format(out=out))
    return out


def test_sigkill_while_waiting_then_restart_then_approve_from_the_cli(
    tmp_path: Path, services: list[ServiceProcess]
) -> None:
    out = project(tmp_path)
    first = start_service(tmp_path, "2026-12-04T07:59:58Z")  # Friday, 08:59:58 in Rome
    services.append(first)
    first.wait_log("run waiting for an approval")
    [pending] = query(tmp_path, "SELECT * FROM approvals WHERE status = 'pending'")
    assert json.loads(pending["preview"]) == ["write post1.txt", "write post2.txt"]
    first.proc.kill()  # SIGKILL between the request and the decision
    assert first.proc.wait(10) == -9
    [run] = query(tmp_path, "SELECT * FROM runs")
    assert run["status"] == "waiting"
    assert not (out / "performed.log").exists()

    second = start_service(tmp_path, "2026-12-04T08:05:00Z")
    services.append(second)
    second.wait_log("service started")
    assert query(tmp_path, "SELECT status FROM runs")[0]["status"] == "waiting"
    listed = avflow(tmp_path, "approvals", "acme")
    assert pending["id"] in listed.stdout, listed.stderr
    approved = avflow(tmp_path, "approve", pending["id"])
    assert approved.returncode == 0, approved.stderr
    assert "the running service takes the run up" in approved.stdout
    second.wait_log("run finished", status="succeeded", run=run["id"])
    assert (out / "performed.log").read_text().split() == ["post1.txt", "post2.txt"]
    [done] = query(tmp_path, "SELECT * FROM runs")
    assert done["status"] == "succeeded"
    assert sum(1 for r in second.logs if r.get("event") == "run resumed") == 1

    again = avflow(tmp_path, "approve", pending["id"])
    assert again.returncode == 2 and "already approved" in again.stderr
    verify = avflow(tmp_path, "audit", "verify", "acme")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    second.proc.terminate()
    assert second.proc.wait(120) == 0
    assert (out / "performed.log").read_text().split() == ["post1.txt", "post2.txt"]


def test_sigkill_in_the_resumed_run_then_restart_finishes_it_once(
    tmp_path: Path, services: list[ServiceProcess]
) -> None:
    out = project(tmp_path)
    # the first service dies right after the first effect of the approved run, before recording it
    first = start_service(tmp_path, "2026-12-04T07:59:58Z", env={"CRASHY_KILL_AFTER": "1"})
    services.append(first)
    first.wait_log("run waiting for an approval")
    [pending] = query(tmp_path, "SELECT * FROM approvals")
    approved = avflow(tmp_path, "approve", pending["id"], "--reason", "ok")
    assert approved.returncode == 0, approved.stderr
    assert first.proc.wait(120) == -9
    assert (out / "performed.log").read_text().split() == ["post1.txt"]
    assert query(tmp_path, "SELECT status FROM runs")[0]["status"] == "running"
    second = start_service(tmp_path, "2026-12-04T08:05:00Z")
    services.append(second)
    second.wait_log("interrupted run finished", status="succeeded")
    assert (out / "performed.log").read_text().split() == ["post1.txt", "post2.txt"]
    assert avflow(tmp_path, "audit", "verify", "acme").returncode == 0
    second.proc.terminate()
    assert second.proc.wait(120) == 0


def test_a_deadline_passed_while_no_service_ran_takes_the_default_at_start(
    tmp_path: Path, services: list[ServiceProcess]
) -> None:
    """Asked on a Friday at 17:55 in Rome with ten minutes of working time: the deadline is
    Monday 09:05. The service stopped over the weekend takes the default when it starts."""
    out = project(tmp_path)
    post = tmp_path / "workflows" / "acme" / "post.yaml"
    post.write_text(
        post.read_text()
        .replace('"0 9 * * *"', '"55 17 * * 5"')
        .replace('summary: "Publish the winter sale post?"', "{}".format(
            'summary: "Publish the winter sale post?"\n      timeout: 10m\n      default: approve'
        ))
    )  # fmt: skip
    profile = tmp_path / "workflows" / "acme" / "client.yaml"
    profile.write_text(profile.read_text() + 'working_hours: { mon-fri: "09:00-18:00" }\n')
    first = start_service(tmp_path, "2026-12-04T16:54:58Z")  # Friday 17:54:58 in Rome
    services.append(first)
    first.wait_log("run waiting for an approval")
    [pending] = query(tmp_path, "SELECT * FROM approvals")
    assert pending["deadline"].startswith("2026-12-07T08:05:00")  # Monday 09:05 in Rome
    first.proc.terminate()
    assert first.proc.wait(120) == 0
    early = start_service(tmp_path, "2026-12-07T08:04:00Z")  # Monday 09:04: not yet
    services.append(early)
    early.wait_log("service started")  # its first check of approvals is done by then
    assert query(tmp_path, "SELECT status FROM approvals")[0]["status"] == "pending"
    early.proc.terminate()
    assert early.proc.wait(120) == 0
    second = start_service(tmp_path, "2026-12-07T08:06:00Z")  # Monday 09:06
    services.append(second)
    second.wait_log("approval expired", approval=pending["id"], default="approve")
    second.wait_log("run finished", status="succeeded")
    assert (out / "performed.log").read_text().split() == ["post1.txt", "post2.txt"]
    [done] = query(tmp_path, "SELECT * FROM approvals")
    assert (done["status"], done["decided_by"]) == ("expired", "avflow (timeout)")
    late = avflow(tmp_path, "approve", pending["id"])
    assert late.returncode == 2 and "expired (approve by default)" in late.stderr
    assert avflow(tmp_path, "audit", "verify", "acme").returncode == 0
    second.proc.terminate()
    assert second.proc.wait(120) == 0
