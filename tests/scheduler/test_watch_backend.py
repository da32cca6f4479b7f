"""`FileWatcher` sets its watches up synchronously through watchfiles' Rust backend class
(`watchfiles._rust_notify.RustNotify`, the class `watchfiles.watch` itself runs on), which the
public `watch()` generator cannot do: it sets them up only on its first iteration, in the
watching thread. The dependency is pinned below 2 in pyproject.toml; this test fails the day
the class moves or its call changes, before the service would fall back to SIGHUP-only reloads.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from pathlib import Path

from avflow.scheduler.reload import FileWatcher


def test_the_pinned_watchfiles_backend_still_has_the_call_avflow_uses(tmp_path: Path) -> None:
    assert int(version("watchfiles").split(".")[0]) < 2  # the pin in pyproject.toml
    from watchfiles._rust_notify import RustNotify

    # paths, debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
    notify = RustNotify([str(tmp_path)], False, False, 300, True, False)
    with notify:
        (tmp_path / "a.yaml").write_text("x: 1\n")  # watches are live as soon as it exists
        changes = notify.watch(50, 50, 5000, threading.Event())
        assert isinstance(changes, set)
        assert any(path.endswith("a.yaml") for _, path in changes), changes
        stopped = threading.Event()
        stopped.set()
        assert notify.watch(50, 50, 5000, stopped) == "stop"


def test_an_edit_right_after_start_is_seen(tmp_path: Path) -> None:
    seen = threading.Event()
    watcher = FileWatcher(tmp_path, seen.set, step_ms=50, debounce_ms=50)
    watcher.start()  # returns once the watches are set up
    try:
        (tmp_path / "wf.yaml").write_text("steps: []\n")
        assert seen.wait(10)
    finally:
        watcher.stop()
