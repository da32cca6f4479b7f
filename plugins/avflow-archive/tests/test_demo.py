"""The demo proposed for the bundled workflows/ (plugins/avflow-archive/demo/) runs as described."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

DEMO = Path(__file__).parents[1] / "demo"


def test_demo_scanner_workflow(avflow_harness):
    h = avflow_harness
    accounts = yaml.safe_load((DEMO / "client-accounts.yaml").read_text())["accounts"]
    h.client("acme", {"name": "Acme S.r.l.", "timezone": "Europe/Rome", **{"accounts": accounts}})
    client_dir = h.workflows / "acme"
    shutil.copy(DEMO / "scanner.yaml", client_dir / "scanner.yaml")
    shutil.copytree(DEMO / "scanner", client_dir / "scanner")
    old = time.time() - 600  # scanned ten minutes ago: settled
    for p in (client_dir / "scanner").iterdir():
        os.utime(p, (old, old))
    h.clock.set("2026-03-16T10:00:00+01:00")
    result = h.run("acme/scanner")
    assert result.status == "succeeded", result.error
    year_month = datetime.fromtimestamp(old, ZoneInfo("Europe/Rome")).strftime(
        "%Y-%m"
    )  # the client's time
    placed = {f["name"]: (f["rule"], f["path"]) for f in result.outputs["file"]["files"]}
    assert placed == {
        "fattura-enel-marzo.pdf": ("fatture", f"Fatture/{year_month[:4]}/fattura-enel-marzo.pdf"),
        "contratto-locazione.pdf": ("contratti", "Contratti/contratto-locazione.pdf"),
        "Scansione 0001.pdf": (None, f"Da smistare/{year_month}/Scansione 0001.pdf"),
        "appunti.txt": (None, f"Da smistare/{year_month}/appunti.txt"),
    }
    archive = client_dir / "archivio"
    assert sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file()) == sorted(
        path for _, path in placed.values()
    )
    assert list((client_dir / "scanner").iterdir()) == []
    assert all(
        p.stat().st_mode & 0o222 == 0 for p in archive.rglob("*") if p.is_file()
    )  # retention
