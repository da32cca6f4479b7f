"""The trigger under the real service: ``avflow run`` files what is dropped, then stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def test_avflow_run_files_a_dropped_scan(tmp_path):
    workflows, home, drop, archive = (
        tmp_path / n for n in ("workflows", "home", "drop", "archive")
    )
    for d in (workflows / "acme", home, drop, archive):
        d.mkdir(parents=True)
    (workflows / "acme" / "client.yaml").write_text(
        f"name: Acme\ntimezone: Europe/Rome\nroots: [{drop}, {archive}]\n"
        f"accounts:\n  archivio: {{ type: local, path: {archive} }}\n"
    )
    (workflows / "acme" / "scans.yaml").write_text(
        "name: Scansioni\non:\n  events:\n    - uses: archive.new_file\n"
        f"      with: {{ folder: {drop}, settle: 1 }}\n"
        "steps:\n  - uses: archive.scan\n"
        f"    with: {{ account: archivio, folder: {drop}, settle: 1, path: 'Scansioni/{{{{ file.name }}}}' }}\n"
    )
    with open(tmp_path / "service.log", "wb") as log:
        service = subprocess.Popen(
            [AVFLOW, "--workflows", str(workflows), "--home", str(home), "run"],
            stdout=log,
            stderr=log,
        )
    try:
        time.sleep(1.5)  # the watcher is up
        (drop / "scan 0001.pdf").write_bytes(b"%PDF-1.4 scanned page")
        target = archive / "Scansioni" / "scan 0001.pdf"
        deadline = time.monotonic() + 30
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.exists(), (tmp_path / "service.log").read_text()[-3000:]
        while any(drop.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(drop.iterdir()) == []
        assert target.read_bytes() == b"%PDF-1.4 scanned page"
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(20)
    assert code == 0, (tmp_path / "service.log").read_text()[-3000:]
