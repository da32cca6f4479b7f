"""Editing, adding, breaking and removing workflow files under a running service."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

import pytest
from sched_helpers import PLUGINS, ServiceProc, client, wait_for, write

from avflow.clock import FakeClock
from avflow.loader import Loader
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service


def wf(cron: str, message: str = "hi") -> str:
    return f'on:\n  schedule:\n    - cron: "{cron}"\nsteps:\n  - uses: core.log\n    with: {{message: {message}}}\n'


def scheduled(root: Path) -> dict[str, str]:
    con = sqlite3.connect(root / "home" / "state.db")
    try:
        return {
            f"{c}/{w}": n
            for c, w, n in con.execute("SELECT client, workflow, next_at FROM schedule_state")
        }
    finally:
        con.close()


def test_reload_on_file_changes_keeps_the_last_good_version(
    project: Path, services: list[ServiceProc]
) -> None:
    client(project, "acme", "Europe/Rome")
    a = write(project / "workflows/acme/a.yaml", wf("0 9 * * *"))
    svc = ServiceProc(project, "run", fake_now="2026-03-02T06:00:00Z")
    services.append(svc)
    started = svc.wait_log("service started")
    assert scheduled(project) == {"acme/a": "2026-03-02T08:00:00Z"}  # 09:00 in Rome
    assert started["next"] == "acme/a at 2026-03-02T09:00+01:00"  # in the client's time

    m = svc.mark()
    write(a, wf("0 10 * * *"))  # edit
    svc.wait_log("workflows reloaded", since=m, changed=["acme/a"])
    assert scheduled(project) == {"acme/a": "2026-03-02T09:00:00Z"}

    m = svc.mark()
    write(project / "workflows/acme/b.yaml", wf("30 7 * * *"))  # add
    svc.wait_log("workflows reloaded", since=m, added=["acme/b"])
    assert scheduled(project)["acme/b"] == "2026-03-02T06:30:00Z"

    m = svc.mark()
    write(
        a, wf("0 11 * * *") + "  - uses: core.log\n    with: {message: [unclosed\n"
    )  # break: YAML syntax
    rec = svc.wait_log("invalid workflow file: keeping the last good version", since=m)
    assert f"{a}:" in rec["error"] and "YAML syntax error" in rec["error"]
    assert rec["error"].split(f"{a}:")[1].split(":")[0].isdigit()  # file:line
    svc.wait_log("workflows reloaded", since=m, kept_last_good=["acme/a"])
    assert scheduled(project)["acme/a"] == "2026-03-02T09:00:00Z"  # still the 10:00 version

    write(a, wf("0 12 * * *").replace("core.log", "core.lgo"))  # break: unknown action
    rec = wait_for(
        lambda: [r for r in svc.logs if "core.lgo" in str(r.get("error"))], 20, "the error"
    )[0]
    assert f"{a}:5:5:" in rec["error"] and "did you mean 'core.log'" in rec["error"]
    assert scheduled(project)["acme/a"] == "2026-03-02T09:00:00Z"

    m = svc.mark()
    (project / "workflows/acme/b.yaml").unlink()  # remove
    svc.wait_log("workflows reloaded", since=m, removed=["acme/b"])
    assert "acme/b" not in scheduled(project)

    m = svc.mark()
    write(a, wf("0 13 * * *"))  # fixed again
    svc.wait_log("workflows reloaded", since=m, changed=["acme/a"])
    assert scheduled(project) == {"acme/a": "2026-03-02T12:00:00Z"}
    assert svc.stop() == 0


def test_sighup_reloads_without_a_file_watcher(project: Path, services: list[ServiceProc]) -> None:
    client(project, "acme")
    a = write(project / "workflows/acme/a.yaml", wf("0 9 * * *"))
    svc = ServiceProc(project, "run", "--no-watch", fake_now="2026-03-02T06:00:00Z")
    services.append(svc)
    svc.wait_log("service started")
    write(a, wf("0 10 * * *"))
    write(
        project / "workflows/acme/client.yaml", "name: Acme\ntimezone: Nowhere/Atlantis\n"
    )  # broken profile
    svc.send(signal.SIGHUP)
    rec = svc.wait_log("workflows reloaded", reason="SIGHUP")
    assert rec["kept_last_good"] == ["acme"]  # the whole client stays as it was
    assert scheduled(project) == {"acme/a": "2026-03-02T09:00:00Z"}
    assert any(
        "Nowhere/Atlantis" in str(r.get("error")) and "client.yaml:2:" in str(r.get("error"))
        for r in svc.logs
    )
    client(project, "acme")
    m = svc.mark()
    svc.send(signal.SIGHUP)
    svc.wait_log("workflows reloaded", since=m, reason="SIGHUP", changed=["acme/a"])
    assert scheduled(project) == {"acme/a": "2026-03-02T10:00:00Z"}
    assert svc.stop() == 0


def test_an_edit_made_while_the_service_reads_its_workflows_is_not_missed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch is set up before the files are read: an edit landing mid-load causes a reload."""
    client(project, "acme", "Europe/Rome")
    a = write(project / "workflows/acme/a.yaml", wf("0 9 * * *"))
    real_load = Loader.load
    edited = []

    def load_then_edit(self: Loader, root: Path) -> object:
        result = real_load(self, root)
        if not edited:  # the AV saves her edit just after the service read the old version
            write(a, wf("0 10 * * *"))
            edited.append(True)
        return result

    monkeypatch.setattr(Loader, "load", load_then_edit)
    svc = Service(
        project / "workflows",
        project / "home",
        PluginManager(autoload=False, plugins_dirs=[PLUGINS]),
        clock=FakeClock("2026-03-02T06:00:00Z"),
    )
    # simulated time stays at 06:00, so the next firing is exactly the one the edit asks for
    svc.clock.sleep = lambda seconds, wake=None: None  # type: ignore[method-assign]
    t = threading.Thread(target=svc.run)
    t.start()
    try:
        assert svc.ready.wait(20)
        wait_for(lambda: scheduled(project) == {"acme/a": "2026-03-02T09:00:00Z"}, 20, "a reload")
    finally:
        svc.stop()
        t.join(30)
    assert not t.is_alive()


def test_service_roots_naming_a_client_gone_at_a_reload_is_logged_at_its_key(
    project: Path, services: list[ServiceProc], tmp_path: Path
) -> None:
    """service.yaml grants bloom a root; bloom's folder is renamed under the running service:
    the reload names the key (file:line:column, the close name), the service goes on."""
    granted = tmp_path / "granted"
    granted.mkdir()
    settings = project / "home" / "service.yaml"
    settings.write_text(f"roots:\n  bloom: [{granted}]\n")
    client(project, "acme")
    client(project, "bloom")
    write(project / "workflows/acme/a.yaml", wf("0 9 * * *"))
    svc = ServiceProc(project, "run", "--no-watch", fake_now="2026-03-02T06:00:00Z")
    services.append(svc)
    svc.wait_log("service started")
    (project / "workflows" / "bloom").rename(project / "workflows" / "bloom2")
    m = svc.mark()
    svc.send(signal.SIGHUP)
    svc.wait_log("workflows reloaded", since=m, reason="SIGHUP")
    found = [
        r
        for r in svc.logs
        if str(r.get("error")).startswith(f"{settings}:2:3: roots: no client 'bloom' in ")
        and "(did you mean 'bloom2'?)" in str(r.get("error"))
    ]
    assert len(found) == 1, svc.logs
    # logged as what it is: not a workflow file, and it is not "not loaded"
    assert found[0]["event"] == (
        "service.yaml error: the service goes on with the settings it started with"
    ), found
    assert scheduled(project) == {"acme/a": "2026-03-02T09:00:00Z"}
    assert svc.stop() == 0
