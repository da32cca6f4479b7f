"""What a newcomer does: a fresh clone, `make run` on a Saturday night in Rome, the README's commands.

The clone is made with `git clone` of this repository (committed files only), and `make run`
installs its own virtual environment in it from the package index, as a newcomer's does (on a busy
2-core machine that takes several minutes; the 90 seconds are counted from the end of the
install, when `make run` seeds the demo's data). The clock is set from outside the product with
libfaketime (the Debian `faketime` package, installed by .ci/run): `make run` and every command
run under `faketime`, with `TZ=Europe/Rome`, starting at Saturday 5 December 2026, 23:30 — every
demo workflow that is gated to working hours would wait until Monday. The demo's first pass
(workflows/demo.yaml) runs each workflow once all the same.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SATURDAY_NIGHT = "2026-12-05 23:30:00"  # Europe/Rome
INSTALL_TIMEOUT = 1800.0
BUDGET = 90.0
CLIENTS = ("acme", "bloom-bakery", "studio-rossi")

pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None or shutil.which("git") is None or shutil.which("make") is None,
    reason="needs git, make and faketime (Debian package faketime; .ci/run installs it)",
)


def newcomer_env() -> dict[str, str]:
    """The environment of someone who just cloned: none of avflow's variables, no venv active."""
    venv = str(REPO / ".venv")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AVFLOW_", "PYTEST_", "FAKETIME"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if venv not in p)
    env["TZ"] = "Europe/Rome"
    return env


class Output:
    """The lines `make run` prints (stdout and stderr together, as on a terminal)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, []
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
        self.closed.set()

    def find(self, words: str) -> str | None:
        return next((line for line in list(self.lines) if words in line), None)

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


def wait(check, timeout: float, what: str, out: Output) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if out.proc.poll() is not None:
            raise AssertionError(
                f"make run exited ({out.proc.returncode}) before {what}:\n{out.text()}"
            )
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{out.text()}")


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def demo_did_its_work(clone: Path) -> bool:
    acme = clone / "workflows" / "acme" / "data"
    rossi = clone / "workflows" / "studio-rossi" / "data"
    inbox = files(acme / "Maildir" / "new") + files(acme / "Maildir" / "cur")
    invoices_left = [
        p
        for p in inbox
        if "fattura" in p.read_text(errors="replace").lower().split("subject:", 1)[-1][:80]
    ]
    return bool(
        files(acme / "Maildir" / ".Fatture")
        and files(acme / "Maildir" / ".Newsletter")
        and not invoices_left
        and any(p.suffix == ".pdf" for p in files(acme / "Archivio" / "Fatture"))
        and (rossi / "scanner").is_dir()
        and not list((rossi / "scanner").iterdir())
        and len(files(rossi / "Archivio")) == 4
        and files(clone / "workflows" / "bloom-bakery" / "data" / "outbox")
    )


def readme_command(
    clone: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`. .venv/bin/activate; avflow ...` from the repository, as the README says."""
    return subprocess.run(
        ["faketime", SATURDAY_NIGHT, str(clone / ".venv" / "bin" / "avflow"), *args],
        cwd=clone,
        env={**env, "VIRTUAL_ENV": str(clone / ".venv")},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_make_run_on_a_saturday_night_in_rome(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "avflow audit verify acme" in readme
    clone = tmp_path / "avflow"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=300)
    env = newcomer_env()
    proc = subprocess.Popen(
        ["faketime", SATURDAY_NIGHT, "make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    out = Output(proc)
    try:
        began = time.monotonic()
        wait(lambda: out.find("sample messages in"), INSTALL_TIMEOUT, "the install", out)
        t0 = time.monotonic()  # the install is over: make run seeds the demo's data now
        wait(lambda: demo_did_its_work(clone), BUDGET, "the demo's first pass", out)
        done = wait(lambda: out.find("demo first pass done"), BUDGET, "the first pass's end", out)
        assert "6 succeeded" in str(done), out.text()
        for client in CLIENTS:
            verify = readme_command(clone, env, "audit", "verify", client)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert verify.stdout.startswith(f"OK: client {client}"), verify.stdout
        elapsed = time.monotonic() - t0
        assert elapsed < BUDGET, f"{elapsed:.0f} s from the end of the install"
        print(f"install {t0 - began:.0f} s; sorted, filed and verified {elapsed:.0f} s later")

        # what the newcomer read: plain lines, the demo pass announced, the next real firing
        assert not any(line.startswith("{") for line in out.lines), out.text()
        started = out.find("demo first pass: running each of the 6 workflows once")
        assert started and "CET" in started, out.text()
        nxt = out.find("next: ")
        assert nxt and " Mon " in nxt and "(Rome)" in nxt, out.text()
        runs = readme_command(clone, env, "runs")
        assert runs.returncode == 0 and ".avflow-home" in runs.stderr, runs.stderr
        assert runs.stdout.count(" demo ") == 6 and "Sat 2026-12-05 23:" in runs.stdout, runs.stdout
        status = readme_command(clone, env, "status")
        assert (
            "running (pid" in status.stdout and "outside working hours until then" in status.stdout
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches faketime, make and the service
        out.closed.wait(60)  # everyone who writes to the pipe is gone (not only faketime)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing is left behind, whatever happened
        proc.wait(10)
        # faketime's wrapper names its shared memory and semaphore by its pid and, interrupted,
        # leaves them: a later faketime given the same pid then fails (sem_open: File exists)
        for name in (f"faketime_shm_{proc.pid}", f"sem.faketime_sem_{proc.pid}"):
            Path("/dev/shm", name).unlink(missing_ok=True)
    # Ctrl-C: make reports the interrupt as 2; faketime's wrapper may itself die of the SIGINT
    assert proc.returncode in (0, 2, 130, -signal.SIGINT), out.text()
    assert out.find("service stopped"), out.text()
