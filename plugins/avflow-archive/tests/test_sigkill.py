"""SIGKILL of a real ``avflow`` process while it files 500 files from a drop folder.

The process is killed twice (once during the run, once during the resume), then resumed to
the end: every file is in the archive exactly once and no source file is lost.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

N = 500
AVFLOW = str(Path(sys.executable).parent / "avflow")


def _write_project(tmp: Path) -> tuple[Path, Path, Path, Path]:
    workflows, home, archive, drop = (tmp / n for n in ("workflows", "home", "archive", "drop"))
    for d in (workflows / "acme", home, archive, drop):
        d.mkdir(parents=True)
    (workflows / "acme" / "client.yaml").write_text(
        f"name: Acme S.r.l.\ntimezone: Europe/Rome\nroots: [{archive}, {drop}]\n"
        f"accounts:\n  archive: {{ type: local, path: {archive} }}\n"
    )
    (workflows / "acme" / "scan.yaml").write_text(
        "name: File the scanner's folder\n"
        "steps:\n"
        "  - id: archive\n"
        "    uses: archive.scan\n"
        f"    with: {{ account: archive, folder: {drop}, settle: 0, path: 'Scansioni/{{{{ file.name }}}}' }}\n"
    )
    return workflows, home, archive, drop


def _make_sources(drop: Path) -> dict[str, bytes]:
    """500 distinct documents; names repeat across sub-folders, so numbered names are needed."""
    contents = {}
    for i in range(N):
        folder = drop / f"batch{i % 10}"
        folder.mkdir(exist_ok=True)
        data = (
            b"%PDF-1.4\n"
            + f"scan {i}\n".encode()
            + hashlib.sha256(str(i).encode()).digest() * (200 + i % 50)
        )
        path = folder / f"scan_{i // 10:02d}.pdf"
        path.write_bytes(data)
        old = time.time() - 3600 + i
        os.utime(path, (old, old))
        contents[hashlib.sha256(data).hexdigest()] = data
    return contents


def _archive_files(archive: Path) -> list[Path]:
    return [p for p in archive.rglob("*") if p.is_file()]


def _kill_when(
    proc: subprocess.Popen[bytes], archive: Path, at_least: int, timeout: float = 60
) -> int:
    end = time.monotonic() + timeout
    count = 0
    while time.monotonic() < end:
        count = (
            sum(1 for _ in (archive / "Scansioni").glob("*"))
            if (archive / "Scansioni").exists()
            else 0
        )
        if count >= at_least or proc.poll() is not None:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return count


@pytest.mark.slow
def test_sigkill_while_filing_500_files_then_resume(tmp_path):
    workflows, home, archive, drop = _write_project(tmp_path)
    contents = _make_sources(drop)
    base = [AVFLOW, "--workflows", str(workflows), "--home", str(home), "--log-level", "warning"]
    with open(tmp_path / "avflow.log", "wb") as log:
        first = subprocess.Popen([*base, "trigger", "acme/scan"], stdout=log, stderr=log)
    seen = _kill_when(first, archive, at_least=120)
    assert first.returncode == -signal.SIGKILL, f"the run ended by itself after {seen} files"
    assert 0 < len(_archive_files(archive)) < N

    with open(tmp_path / "avflow.log", "ab") as log:
        second = subprocess.Popen([*base, "resume"], stdout=log, stderr=log)
    _kill_when(second, archive, at_least=seen + 150)
    assert second.returncode == -signal.SIGKILL, "the resume ended by itself"

    final = subprocess.run([*base, "resume"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "succeeded" in final.stdout

    files = _archive_files(archive)
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    assert not [p for p in files if p.name.endswith(".part")], "a temporary file was left"
    assert len(hashes) == len(set(hashes)), "a document is in the archive twice"
    assert set(hashes) == set(contents), "a source file was lost"
    assert [p for p in drop.rglob("*") if p.is_file()] == []

    listing = subprocess.run(
        [*base, "archive", "list", "acme", "--json"], capture_output=True, text=True
    )
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == N
