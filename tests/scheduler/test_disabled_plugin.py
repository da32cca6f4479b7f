"""A workflow or profile needing a plugin that is disabled, blocked or not installed: `avflow
validate` and `avflow run` refuse it in one line at start; under a running service it is logged
and the other clients and workflows go on (real ``avflow`` processes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sched_helpers import PLUGINS, ServiceProc, client, runs, wait_for, write

GOOD = """\
on:
  schedule:
    - cron: "* * * * *"
steps:
  - uses: fx.write
    with: {{path: {out}, lines: 1}}
"""
GHOST = "steps:\n  - uses: ghost.post\n    with: {text: hi}\n"


def _ghost_plugin(root: Path) -> Path:
    """A second plugins folder whose one plugin does not import (a missing dependency)."""
    folder = root / "more-plugins"
    folder.mkdir()
    (folder / "ghost.py").write_text("import avflow\nimport ghost_sdk_not_installed\n")
    return folder


def _avflow(
    root: Path, *args: str, env: dict[str, str] | None = None, plugins: Path = PLUGINS
) -> subprocess.CompletedProcess[str]:
    base = [sys.executable, "-m", "avflow", "--plugins-dir", str(plugins)]
    base += ["--workflows", str(root / "workflows"), "--home", str(root / "home")]
    full_env = {**os.environ, "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    return subprocess.run([*base, *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_validate_and_run_name_a_blocked_plugin_in_one_line(project: Path) -> None:
    client(project, "acme")
    write(project / "workflows/acme/a.yaml", GOOD.format(out=project / "acme.txt"))
    client(project, "bloom")
    bad = write(project / "workflows/bloom/b.yaml", GOOD.format(out=project / "bloom.txt"))
    write(
        project / "workflows/bloom/ok.yaml", "steps:\n  - uses: core.log\n    with: {message: hi}\n"
    )
    # the test plugin as a loose file named after its actions (fx.py: plugin avflow_local_fx)
    loose = project / "loose"
    loose.mkdir()
    shutil.copy(PLUGINS / "fxplugin.py", loose / "fx.py")
    blocked = {"AVFLOW_BLOCK_PLUGINS": "avflow_local_fx"}
    want = [
        f"{project / 'workflows' / c / f}:5:5: unknown action 'fx.write': plugin avflow_local_fx "
        "is disabled (blocked by AVFLOW_BLOCK_PLUGINS)"
        for c, f in (("acme", "a.yaml"), ("bloom", "b.yaml"))
    ]
    for command in (["validate"], ["run", "--no-watch"]):
        done = _avflow(project, *command, env=blocked, plugins=loose)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines() == want, done.stderr
    assert runs(project) == []  # nothing ran for any client

    # not installed at all: the action's namespace is no installed plugin's
    write(bad, GHOST)
    done = _avflow(project, "validate", env={"AVFLOW_DISABLE_PLUGIN_AUTOLOAD": ""})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{bad}:2:5: unknown action 'ghost.post': no installed plugin offers ghost.* actions "
        "(plugin ghost is not installed; avflow plugins lists the installed ones)"
    ]
    # installed (an entry point) but not loaded: autoload is off in these tests
    write(bad, "steps:\n  - uses: sample.shout\n    with: {text: hi}\n")
    done = _avflow(project, "validate")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{bad}:2:5: unknown action 'sample.shout': plugin sample is installed but not loaded "
        "(AVFLOW_DISABLE_PLUGIN_AUTOLOAD is set)"
    ]


def test_a_reload_needing_a_disabled_plugin_keeps_every_client_running(
    project: Path, services: list[ServiceProc]
) -> None:
    more = _ghost_plugin(project)
    acme_out, bloom_out = project / "acme.txt", project / "bloom.txt"
    client(project, "acme")
    write(project / "workflows/acme/a.yaml", GOOD.format(out=acme_out))
    client(project, "bloom")
    b = write(project / "workflows/bloom/b.yaml", GOOD.format(out=bloom_out))
    svc = ServiceProc(
        project, "--plugins-dir", str(more), "run", fake_now="2026-03-02T08:59:50Z", rate=20
    )
    services.append(svc)
    svc.wait_log("service started")
    disabled = "plugin avflow_local_ghost is disabled (cannot be imported"

    m = svc.mark()  # a new workflow of bloom's needs the disabled plugin: not loaded
    new = write(project / "workflows/bloom/post.yaml", GHOST)
    rec = svc.wait_log(
        "invalid workflow file: not loaded (it has no earlier good version)", since=m
    )
    assert rec["error"].startswith(f"{new}:2:5: unknown action 'ghost.post': {disabled}")
    assert "ghost_sdk_not_installed" in rec["error"]
    svc.wait_log("workflows reloaded", since=m, errors=1, kept_last_good=[])

    m = svc.mark()  # a good workflow edited to need it: its last good version goes on
    write(b, GHOST)
    rec = svc.wait_log("invalid workflow file: keeping the last good version", since=m)
    assert rec["error"].startswith(f"{b}:2:5: unknown action 'ghost.post': {disabled}")
    svc.wait_log("workflows reloaded", since=m, kept_last_good=["bloom/b"])

    m = svc.mark()  # bloom's profile gets an account only the disabled plugin could offer
    client(project, "bloom", extra="accounts:\n  feed: {type: ghost_feed, token: x}\n")
    rec = svc.wait_log("invalid workflow file: keeping the last good version", since=m)
    assert f"{project / 'workflows/bloom/client.yaml'}:4:10: unknown account type" in rec["error"]
    assert "not loaded: plugin avflow_local_ghost is disabled" in rec["error"]
    reloaded = svc.wait_log("workflows reloaded", since=m)
    assert "bloom" in reloaded["kept_last_good"]  # the whole client as it was

    # both clients' workflows go on firing after all of it (a minute is 3 s here)
    def fired_since(out: Path, count: int) -> bool:
        return out.exists() and len(out.read_text().splitlines()) >= count

    acme_now = len(acme_out.read_text().splitlines()) if acme_out.exists() else 0
    bloom_now = len(bloom_out.read_text().splitlines()) if bloom_out.exists() else 0
    wait_for(lambda: fired_since(acme_out, acme_now + 2), 30, "acme's workflow to fire again")
    wait_for(lambda: fired_since(bloom_out, bloom_now + 2), 30, "bloom's last good workflow")
    assert svc.proc.poll() is None
    assert svc.stop() == 0
    assert {r["status"] for r in runs(project)} == {"succeeded"}
