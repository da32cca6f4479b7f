"""``avflow auth google|microsoft`` asks for the union of the scopes the client's accounts need,
as the installed plugins declare them (`avflow.OAuthScopes`): one sign-in per Google account."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

GMAIL = {
    "type": "imap",
    "host": "imap.gmail.com",
    "username": "studio@gmail.com",
    "auth": "xoauth2",
    "oauth": {"client_id": "x", "refresh_token": "${secret:google}"},
}
PLAIN = {"type": "imap", "host": "mail.acme.example", "username": "a", "password": "p"}
CALENDAR = {
    "type": "google_calendar",
    "refresh_token": "${secret:google}",
    "client_id": "x",
    "client_secret": "${secret:app}",
}
DRIVE = {
    "type": "google_drive",
    "folder_id": "F1",
    "refresh_token": "${secret:google}",
    "client_id": "x",
    "client_secret": "${secret:app}",
}


def auth(h: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "avflow",
            "--workflows",
            str(h.workflows),
            "--home",
            str(h.home),
            "auth",
            *args,
            "acme",
            "google",
            "--client-id",
            "app",
            "--client-secret-name",
            "app",
            "--no-browser",
            "--timeout",
            "1",
            "--auth-uri",
            "http://127.0.0.1:9/authorize",
            "--token-uri",
            "http://127.0.0.1:9/token",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def asked(out: str) -> list[str]:
    address = next(line.strip() for line in out.splitlines() if "/authorize?" in line)
    return parse_qs(urlsplit(address).query)["scope"][0].split()


def test_google_asks_for_every_scope_the_client_uses(avflow_harness: Any) -> None:
    h = avflow_harness
    h.client(
        "acme",
        name="Acme",
        accounts={"mail": GMAIL, "other": PLAIN, "agenda": CALENDAR, "archive": DRIVE},
    )
    h.secret("acme", "app", "app-secret")
    done = auth(h, "google")
    assert done.returncode == 2  # no browser came back within a second
    assert asked(done.stdout) == [
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/calendar",
        "https://www.googleapis.com/auth/drive.file",
    ]
    more = auth(h, "google", "--scope", "openid")
    assert asked(more.stdout)[-1] == "openid"


def test_only_the_accounts_that_use_google(avflow_harness: Any) -> None:
    h = avflow_harness
    h.client("acme", name="Acme", accounts={"agenda": CALENDAR, "other": PLAIN})
    h.secret("acme", "app", "app-secret")
    assert asked(auth(h, "google").stdout) == ["https://www.googleapis.com/auth/calendar"]


def test_a_client_without_google_accounts_is_one_line(avflow_harness: Any) -> None:
    h = avflow_harness
    h.client("acme", name="Acme", accounts={"other": PLAIN})
    done = auth(h, "google")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: client 'acme' has no account that signs in with google: add the account to "
        "client.yaml first, or name scopes with --scope"
    ]


def test_the_sign_in_lives_in_the_core() -> None:
    import avflow.signin  # noqa: F401

    email = Path(__file__).resolve().parents[1] / "plugins" / "avflow-email" / "src"
    assert not list(email.rglob("signin.py")) and not list(email.rglob("auth_cli.py"))


def test_a_profile_mistake_is_one_line_at_its_position(avflow_harness: Any) -> None:
    """The profile is read through avflow's one YAML reader: a tab is located and explained."""
    h = avflow_harness
    profile = h.client("acme", name="Acme", accounts={"agenda": CALENDAR})
    profile.write_text(profile.read_text() + "accounts2:\n\tx: 1\n")
    done = auth(h, "google")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    line = len(profile.read_text().splitlines())
    assert lines[0].startswith(f"{profile}:{line}:1: YAML syntax error: a tab character")
