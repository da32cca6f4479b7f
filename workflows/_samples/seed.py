"""Seed the demo's local data (run by `make run`; safe to run again: existing data is kept).

- Acme's Maildir (workflows/acme/data/Maildir) gets sample mail: supplier invoices with PDFs,
  newsletters, appointment requests (`avflow email seed`).
- Studio Rossi's scanner folder (workflows/studio-rossi/data/scanner) gets sample scans.

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


if __name__ == "__main__":
    main()
