"""The client report on the bundled demo, as an Italian client reads it: the built-in plugins'
effects in plain Italian words, paths relative to the client's archive, no internal words."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from clikit import child, folders

REPO = Path(__file__).resolve().parents[1]


def avflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return child(*folders(root), *args, drop=["AVFLOW_DISABLE_PLUGIN_AUTOLOAD"], timeout=180)


def test_the_acme_report_is_in_plain_italian(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "workflows",
        tmp_path / "workflows",
        ignore=shutil.ignore_patterns("data", "__pycache__"),
    )
    seed = [sys.executable, str(tmp_path / "workflows" / "_samples" / "seed.py")]
    assert subprocess.run(seed, capture_output=True, timeout=120).returncode == 0
    ran = avflow(tmp_path, "trigger", "acme/inbox")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    month = datetime.now(ZoneInfo("Europe/Rome")).strftime("%Y-%m")
    made = avflow(tmp_path, "audit", "report", "acme", "--month", month, "--no-bundle")
    assert made.returncode == 0, made.stdout + made.stderr
    page = (tmp_path / "home" / "reports" / "acme" / f"acme-activity-{month}.html").read_text()
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[1]))
    assert "Operazioni svolte" in text and "Messaggi spostati in" in text
    assert "Archiviato " in text  # invoices filed, named within the archive
    for internal in ("email.", "archive.", "\\Seen", "set ", str(tmp_path), "/tmp/"):
        assert internal not in text, (internal, text[:3000])
