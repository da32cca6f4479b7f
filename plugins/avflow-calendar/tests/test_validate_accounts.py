"""`avflow validate` checks every account a calendar step names, the lists included: a
mistyped name under ``also_busy:`` (or the agenda's ``also:``) passed validation and failed
the run later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def test_accounts_in_lists_are_checked_at_their_line_and_column(tmp_path: Path) -> None:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(
        "name: Acme\ntimezone: Europe/Rome\naccounts:\n"
        "  cal: { type: ics, path: cal.ics, create: true }\n"
        "  other: { type: ics, path: other.ics, create: true }\n"
        "  mail: { type: maildir, path: Maildir }\n"
    )
    (client / "slots.yaml").write_text(
        "name: Slots\non: { schedule: [{ cron: '0 8 * * *' }] }\nsteps:\n"
        "  - uses: calendar.free_slots\n"
        "    with:\n"
        "      account: cal\n"
        "      duration_minutes: 30\n"
        "      also_busy: [other, studio, mail]\n"
        "  - uses: calendar.agenda\n"
        "    with:\n"
        "      account: cal\n"
        "      also:\n"
        "        - other\n"
        "        - '{{ run.event.calendar }}'\n"
        "        - agnda\n"
    )
    done = subprocess.run(
        [AVFLOW, "--workflows", str(client.parent), "--home", str(tmp_path / "h"), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout
    lines = done.stderr.strip().splitlines()
    wanted = [
        "slots.yaml:8:26: client 'acme' has no account 'studio' (accounts: cal, mail, other)",
        "slots.yaml:8:34: account 'mail' is of type 'maildir'; this needs ics or caldav or "
        "google_calendar",
        "slots.yaml:15:11: client 'acme' has no account 'agnda' (accounts: cal, mail, other)",
    ]
    for line in wanted:
        assert any(got.endswith(line) for got in lines), done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 3, done.stderr
