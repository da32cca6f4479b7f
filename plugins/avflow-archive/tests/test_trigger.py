"""archive.new_file: the watch function, run directly in a thread against a real folder."""

from __future__ import annotations

import threading
import time
from datetime import UTC
from pathlib import Path

import pytest
import structlog
from avflow_archive.params import NewFileParams
from avflow_archive.trigger import watch
from pydantic import ValidationError

import avflow
from avflow.paths import Confinement


class Watcher:
    def __init__(self, folder: Path, **params):
        self.events: list[dict] = []
        self.fired = threading.Event()
        self.ctx = avflow.TriggerContext(
            client=avflow.ClientInfo(
                "acme",
                "Acme",
                "UTC",
                UTC,
                paths=Confinement.build(
                    "acme", folder / "no-client", [folder], home=folder.parent / "no-home"
                ),
            ),
            workflow="scans",
            account=lambda name: None,
            fire=self._fire,
            log=structlog.get_logger("test"),
        )
        self.params = NewFileParams(folder=str(folder), **params)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _fire(self, payload):
        self.events.append(dict(payload))
        self.fired.set()

    def _run(self):
        try:
            watch(self.ctx, self.params)
        except BaseException as exc:
            self.error = exc

    def __enter__(self):
        self.thread.start()
        time.sleep(0.3)  # let the watcher start
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> float:
        t0 = time.monotonic()
        self.ctx.stopping.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "watch did not return after stopping was set"
        return time.monotonic() - t0

    def names(self) -> list[str]:
        return sorted(f["name"] for e in self.events for f in e["files"])

    def wait_for(self, n: int, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while len(self.names()) < n and time.monotonic() < end:
            time.sleep(0.05)


def test_files_present_at_start_fire_once(tmp_path):
    (tmp_path / "old.pdf").write_bytes(b"left while the service was down")
    with Watcher(tmp_path, settle=0.2, poll=0.1) as w:
        w.wait_for(1)
        time.sleep(0.6)
    assert w.error is None
    assert w.names() == ["old.pdf"]
    assert w.events[0]["folder"] == str(tmp_path)
    assert w.events[0]["files"][0]["size"] == len(b"left while the service was down")


def test_a_file_still_being_written_fires_only_after_it_settles(tmp_path):
    with Watcher(tmp_path, settle=1.0, poll=0.1) as w:
        path = tmp_path / "scan.pdf"
        t_last = 0.0
        with open(path, "wb") as f:
            for _ in range(16):  # a slow scanner: a chunk every 0.1 s for 1.6 s, longer than settle
                f.write(b"x" * 500)
                f.flush()
                t_last = time.monotonic()
                time.sleep(0.1)
                assert w.events == [], "fired while the file was still being written"
        w.wait_for(1)
        fired_at = time.monotonic()
        time.sleep(1.0)
    assert w.error is None
    assert w.names() == ["scan.pdf"]
    assert w.events[0]["files"][0]["size"] == 8000
    assert fired_at - t_last >= 1.0


def test_hidden_temporary_and_unwanted_files_are_ignored(tmp_path):
    with Watcher(tmp_path, settle=0.1, poll=0.1, include=["*.pdf"]) as w:
        (tmp_path / ".hidden.pdf").write_bytes(b"h")
        (tmp_path / "x.pdf.part").write_bytes(b"p")
        (tmp_path / "notes.txt").write_bytes(b"t")
        (tmp_path / ".tmpdir").mkdir()
        (tmp_path / ".tmpdir" / "inside.pdf").write_bytes(b"i")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "real.pdf").write_bytes(b"r")
        w.wait_for(1)
        time.sleep(0.6)
    assert w.names() == ["real.pdf"]


def test_a_changed_file_fires_again_an_unchanged_one_does_not(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"one")
    with Watcher(tmp_path, settle=0.1, poll=0.1) as w:
        w.wait_for(1)
        time.sleep(0.4)
        assert w.names() == ["a.pdf"]
        path.write_bytes(b"two, longer")
        w.wait_for(2)
        time.sleep(0.4)
    assert w.names() == ["a.pdf", "a.pdf"]


def test_stopping_returns_promptly(tmp_path):
    w = Watcher(tmp_path, settle=5, poll=1)
    w.thread.start()
    time.sleep(0.5)
    assert w.stop() < 3


def test_missing_folder_is_a_clear_error(tmp_path):
    w = Watcher(tmp_path / "nope", settle=1)
    w._run()
    assert isinstance(w.error, avflow.StepFailed)
    assert str(w.error).endswith("does not exist")


def test_workflow_with_the_trigger_validates(archive):
    archive.h.workflow(
        "acme",
        "scans",
        {
            "on": {
                "events": [
                    {"uses": "archive.new_file", "with": {"folder": str(archive.drop), "settle": 5}}
                ]
            },
            "steps": [
                {
                    "uses": "archive.scan",
                    "with": {"account": "archive", "folder": str(archive.drop)},
                }
            ],
        },
    )
    assert archive.h.find("acme/scans").id == "scans"


@pytest.mark.parametrize("bad", [{"settle": -1}, {"poll": 0}, {"colour": "red"}])
def test_bad_trigger_parameters_are_refused(tmp_path, bad):
    with pytest.raises(ValidationError):
        NewFileParams(folder=str(tmp_path), **bad)
