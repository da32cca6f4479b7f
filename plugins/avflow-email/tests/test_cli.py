"""``avflow email seed`` and a demo-shaped workflow on a Maildir, through the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from email_testkit import MaildirBox

AVFLOW = Path(sys.executable).parent / "avflow"


def test_seed_then_triage_a_maildir_demo(avflow_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = MaildirBox(tmp_path / "Mail")
    avflow_harness.client(
        "acme", name="Acme", timezone="Europe/Rome", accounts={"mail": box.account}, roots=box.roots
    )
    avflow_harness.workflow(
        "acme",
        "inbox",
        {
            "steps": [
                {
                    "id": "triage",
                    "uses": "email.triage",
                    "with": {
                        "account": "mail",
                        "rules": [
                            {
                                "name": "invoices",
                                "match": {"subject": "fattura", "has_attachment": True},
                                "actions": ["collect_attachments", {"move": "Fatture"}],
                            },
                            {
                                "name": "newsletters",
                                "match": {"mailing_list": True},
                                "actions": ["mark_read", {"move": "Newsletter"}],
                            },
                        ],
                    },
                }
            ]
        },
    )
    base = [
        str(AVFLOW),
        "--workflows",
        str(avflow_harness.workflows),
        "--home",
        str(avflow_harness.home),
    ]
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    seeded = subprocess.run(
        [*base, "email", "seed", "acme", "mail", "--count", "12"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert len(box.contents()) == 12
    run = subprocess.run(
        [*base, "trigger", "acme/inbox"], capture_output=True, text=True, cwd=elsewhere
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(box.contents("Fatture")) == 2 and len(box.contents("Newsletter")) == 2
    assert len(box.contents()) == 8
    assert not (elsewhere / "data").exists()
    quiet: dict[str, Any] = {"capture_output": True, "text": True}
    wrong = subprocess.run([*base, "email", "seed", "acme", "nope"], **quiet)
    assert wrong.returncode == 2 and "no maildir account 'nope'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    for n in ("-5", "0"):  # not "-5 sample messages" and exit 0
        bad = subprocess.run([*base, "email", "seed", "acme", "mail", "--count", n], **quiet)
        assert bad.returncode == 2 and "--count" in bad.stderr, bad
    assert len(box.contents()) == 8
