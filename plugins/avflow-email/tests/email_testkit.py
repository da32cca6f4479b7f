"""Helpers of the email tests: a private Dovecot (session), an SMTP sink (aiosmtpd), mailboxes of both kinds.

Imported by name (`from email_testkit import ...`), never as `conftest`: every plugin's tests folder has
a conftest.py, and a bare `import conftest` would get whichever folder is first on sys.path.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from avflow_email.maildir import LETTER_FLAGS, MaildirMailbox
from avflow_email.message import parse_headers
from dovecot import DOVECOT, Dovecot
from imapclient import IMAPClient
from oauth_server import TokenServer

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """OAuth token and introspection endpoints on 127.0.0.1 (Dovecot checks XOAUTH2 tokens here)."""
    server = TokenServer()
    yield server
    server.stop()


def require_dovecot() -> None:
    """Skip a test that needs Dovecot when it is not installed; fail it instead under CI=true."""
    if not Path(DOVECOT).exists():
        message = f"{DOVECOT} is missing: install the Debian package dovecot-imapd"
        if CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def dovecot(token_server: TokenServer) -> Iterator[Dovecot]:
    """One private Dovecot for the session; each test gets a user (a mailbox) of its own."""
    require_dovecot()
    # Not under pytest's temporary folder: its parents are private to this user, and Dovecot's
    # own processes (and the mail user) must reach the passwd file and the mail folders.
    root = Path(tempfile.mkdtemp(prefix="avflow-dovecot-"))
    os.chmod(root, 0o755)
    server = Dovecot(
        root, extra=token_server.dovecot_passdb(root), mechanisms="plain login xoauth2 oauthbearer"
    )
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


# -- SMTP -----------------------------------------------------------------------------------------
class SmtpSink:
    """An aiosmtpd server in this process that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from dovecot import free_port

        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink.lock:
                    sink.messages.append(
                        (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                    )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def settings(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none"}

    def message_ids(self) -> list[str]:
        out = []
        for _, _, content in self.messages:
            out += parse_headers(content.split(b"\r\n\r\n")[0]).get("message-id", [])
        return out


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.controller.stop()


# -- mailboxes ------------------------------------------------------------------------------------
def make_mail(
    subject: str = "Hello",
    sender: str = "Mario Rossi <mario@example.it>",
    to: str = "studio@acme.example",
    body: str = "Ciao",
    *,
    mid: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    date: str | None = None,
    html: str | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = date or formatdate(localtime=False)
    m["Message-ID"] = mid or make_msgid(domain="test.example")
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    for name, ctype, payload in attachments:
        maintype, subtype = ctype.split("/")
        m.add_attachment(payload, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


class ImapBox:
    """A fresh Dovecot user, seen from the test through its own IMAP connection."""

    kind = "imap"
    roots: list[str] = []

    def __init__(self, server: Dovecot, smtp: dict[str, Any] | None = None) -> None:
        self.server = server
        self.user = server.new_user()
        self.password = "secret"
        self.account: dict[str, Any] = {
            "type": "imap",
            "host": "127.0.0.1",
            "port": server.port,
            "security": "none",
            "username": self.user,
            "password": "${secret:mail}",
            "address": "studio@acme.example",
        }
        if smtp:
            self.account["smtp"] = smtp

    def client(self) -> IMAPClient:
        c = IMAPClient("127.0.0.1", self.server.port, ssl=False, timeout=30)
        c.login(self.user, self.password)
        return c

    def add(self, data: bytes, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> None:
        self.add_many([data], folder, flags)

    def add_many(
        self, items: list[bytes], folder: str = "INBOX", flags: tuple[str, ...] = ()
    ) -> None:
        c = self.client()
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            for i in range(0, len(items), 500):
                c.multiappend(
                    folder, [{"msg": m, "flags": list(flags)} for m in items[i : i + 500]]
                )
        finally:
            c.logout()

    def create(self, folder: str) -> None:
        c = self.client()
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
        finally:
            c.logout()

    def contents(self, folder: str = "INBOX") -> dict[str, set[str]]:
        """Message-ID -> flags, for every message in ``folder`` (a list if an id repeats)."""
        return {k: v for k, v in self.listing(folder)}

    def listing(self, folder: str = "INBOX") -> list[tuple[str, set[str]]]:
        c = self.client()
        try:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return []
            data = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            out = []
            for d in data.values():
                raw = next(v for k, v in d.items() if k.startswith(b"BODY[HEADER"))
                mid = parse_headers(raw).get("message-id", [""])[0]
                flags = {f.decode() if isinstance(f, bytes) else str(f) for f in d[b"FLAGS"]} - {
                    "\\Recent"
                }
                out.append((mid, flags))
            return out
        finally:
            c.logout()


class MaildirBox:
    """A local Maildir, seen from the test through the file system."""

    kind = "maildir"

    def __init__(self, root: Path, smtp: dict[str, Any] | None = None) -> None:
        self.root = root
        self.roots = [str(root)]  # granted to the client: outside its folder (docs/security.md)
        self.mbox = MaildirMailbox("mail", str(root))
        self.account: dict[str, Any] = {
            "type": "maildir",
            "path": str(root),
            "address": "studio@acme.example",
        }
        if smtp:
            self.account["smtp"] = smtp
        self._n = 0

    def create(self, folder: str) -> None:
        self.mbox.create_folder(folder)

    def add(self, data: bytes, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> None:
        if not self.mbox.folder_exists(folder):
            self.mbox.create_folder(folder)
        self._n += 1
        base = self.mbox.path(folder)
        letters = "".join(sorted(k for k, v in LETTER_FLAGS.items() if v in flags))
        name = f"1700000000.M{self._n}P1.test"
        if flags:
            (base / "cur" / f"{name}:2,{letters}").write_bytes(data)
        else:
            (base / "new" / name).write_bytes(data)

    def add_many(
        self, items: list[bytes], folder: str = "INBOX", flags: tuple[str, ...] = ()
    ) -> None:
        for data in items:
            self.add(data, folder, flags)

    def contents(self, folder: str = "INBOX") -> dict[str, set[str]]:
        return {k: v for k, v in self.listing(folder)}

    def listing(self, folder: str = "INBOX") -> list[tuple[str, set[str]]]:
        base = self.mbox.path(folder)
        if not (base / "cur").is_dir():
            return []
        keywords = {}
        kw = base / "dovecot-keywords"
        if kw.exists():
            for line in kw.read_text().splitlines():
                i, _, name = line.partition(" ")
                keywords[chr(ord("a") + int(i))] = name
        out = []
        for sub in ("new", "cur"):
            for p in sorted((base / sub).iterdir()):
                raw = p.read_bytes().split(b"\n\n")[0]
                mid = parse_headers(raw).get("message-id", [""])[0]
                info = p.name.partition(":2,")[2]
                flags = {LETTER_FLAGS.get(c) or keywords.get(c, c) for c in info}
                out.append((mid, flags))
        return out


@pytest.fixture(params=["imap", "maildir"])
def box(request: pytest.FixtureRequest, tmp_path: Path, smtp: SmtpSink) -> ImapBox | MaildirBox:
    """A fresh mailbox of each kind: the rule tests run against both."""
    if request.param == "imap":
        return ImapBox(request.getfixturevalue("dovecot"), smtp.settings)
    return MaildirBox(tmp_path / "Mail", smtp.settings)


@pytest.fixture
def imap_box(dovecot: Dovecot, smtp: SmtpSink) -> ImapBox:
    return ImapBox(dovecot, smtp.settings)


def setup_client(
    harness: Any, box: ImapBox | MaildirBox, workflow: dict[str, Any] | None = None, **triage: Any
) -> None:
    """Write client ``acme`` with account ``mail`` and, if given, workflow ``triage``."""
    harness.client(
        "acme", name="Acme", timezone="Europe/Rome", accounts={"mail": box.account}, roots=box.roots
    )
    if box.kind == "imap":
        harness.secret("acme", "mail", "secret")
    if workflow is None and triage:
        workflow = triage_workflow(**triage)
    if workflow is not None:
        harness.workflow("acme", "triage", workflow)


def triage_workflow(
    rules: list[dict[str, Any]], folder: str = "INBOX", retry: Any = None, **extra: Any
) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": "triage",
        "uses": "email.triage",
        "with": {"account": "mail", "folder": folder, "rules": rules, **extra},
    }
    if retry is not None:
        step["retry"] = retry
    return {"name": "Inbox triage", "steps": [step]}
