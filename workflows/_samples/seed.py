"""Seed the demo's local data (run by `make run`; safe to run again: existing data is kept).

- Acme's Maildir (workflows/acme/data/Maildir) gets sample mail: supplier invoices with PDFs,
  newsletters, appointment requests (`avflow email seed`).
- Studio Rossi's scanner folder (workflows/studio-rossi/data/scanner) gets sample scans.
- Acme's calendar (workflows/acme/data/calendar.ics) gets recurring meetings.

Folders starting with "_" are not clients: avflow ignores this one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE.parent


def main() -> None:
    maildir = WORKFLOWS / "acme" / "data" / "Maildir"
    if not maildir.exists():
        avflow = Path(sys.executable).with_name("avflow")
        subprocess.run([str(avflow), "--workflows", str(WORKFLOWS), "email", "seed", "acme", "mail"], check=True)
    scanner = WORKFLOWS / "studio-rossi" / "data" / "scanner"
    if not scanner.exists():
        shutil.copytree(HERE / "scanner", scanner)
        print(f"seeded {scanner} with {len(list(scanner.iterdir()))} scans")
    calendar = WORKFLOWS / "acme" / "data" / "calendar.ics"
    if not calendar.exists():
        calendar.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / "acme-calendar.ics", calendar)
        print(f"seeded {calendar} with recurring meetings")


if __name__ == "__main__":
    main()
