"""Fixtures for the archive plugin's tests.

``archive`` gives a harness with a client whose ``archive`` account is a local folder, and a
stand-in for the email plugin (``testsrc.attachments``) that puts files in the run's spool and
hands them over in the documented item shape, so ``archive.file`` is exercised end to end.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

import avflow
from avflow.testing import Harness

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
sys.path.insert(0, str(Path(__file__).parent))  # the archive_* server helpers beside this file


def need(condition: bool, what: str) -> None:
    """Skip when a server program is missing, except under CI=true, where that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true (install it: see .ci/run)")
    pytest.skip(f"{what} is not installed")


# -- a stand-in for the email plugin's collected attachments -------------------------------------
class SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str  # base64
    name: str = ""
    name_bytes: str | None = None  # base64 of a name that is not UTF-8 (YAML cannot hold one)
    sender: str = ""
    subject: str = ""
    date: str | None = None
    message_id: str | None = None


class SourceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: list[SourceFile]


def _attachments(ctx: avflow.StepContext, params: SourceParams) -> dict[str, Any]:
    out = []
    folder = ctx.spool / "attachments"  # one folder, as the email plugin writes them
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(params.files):
        path = folder / f"{i}+001-payload"
        data = base64.b64decode(f.data)
        path.write_bytes(data)
        out.append(
            {
                "path": str(path),
                "name": os.fsdecode(base64.b64decode(f.name_bytes)) if f.name_bytes else f.name,
                "sender": f.sender,
                "subject": f.subject,
                "date": f.date,
                "size": len(data),
                "type": "application/octet-stream",
                "message_id": f.message_id,
            }
        )
    return {"attachments": out}


class SourcePlugin:
    """Registers ``testsrc.attachments``."""

    @staticmethod
    @avflow.hookimpl
    def register_actions(register: Any) -> None:
        register(avflow.Action("testsrc.attachments", SourceParams, _attachments))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_pdf(text: str) -> bytes:
    """A small valid PDF whose page shows ``text`` (pypdf extracts it back)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass
class ArchiveEnv:
    """A harness whose client ``acme`` has a local archive account ``archive``."""

    h: Harness
    root: Path
    area: Path  # everything the test may write lives under here
    drop: Path
    account: dict[str, Any] = field(default_factory=dict)
    b64 = staticmethod(b64)
    pdf = staticmethod(make_pdf)

    def client(self, **account: Any) -> None:
        self.account = {"type": "local", "path": str(self.root), **account}
        self.h.client(
            "acme",
            {
                "name": "Acme S.r.l.",
                "timezone": "Europe/Rome",
                "accounts": {"archive": self.account},
                "roots": [str(self.area)],  # the archive and the drop folder (docs/security.md)
            },
        )

    def email_workflow(self, files: list[dict[str, Any]], wf: str = "file", **with_: Any) -> str:
        """A workflow: the stand-in step hands ``files`` over, archive.file files them."""
        self.h.workflow(
            "acme",
            wf,
            {
                "name": "File attachments",
                "steps": [
                    {"id": "mail", "uses": "testsrc.attachments", "with": {"files": files}},
                    {
                        "id": "archive",
                        "uses": "archive.file",
                        "with": {
                            "account": "archive",
                            "files": "{{ steps.mail.outputs.attachments }}",
                            **with_,
                        },
                    },
                ],
            },
        )
        return f"acme/{wf}"

    def scan_workflow(self, wf: str = "scan", **with_: Any) -> str:
        self.h.workflow(
            "acme",
            wf,
            {
                "name": "File the scanner's folder",
                "steps": [
                    {
                        "id": "archive",
                        "uses": "archive.scan",
                        "with": {
                            "account": "archive",
                            "folder": str(self.drop),
                            "settle": 0,
                            **with_,
                        },
                    }
                ],
            },
        )
        return f"acme/{wf}"

    def archived(self) -> dict[str, bytes]:
        """Every file in the archive (temporary files included), by relative path."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def archive(avflow_harness: Harness, tmp_path: Path) -> ArchiveEnv:
    h = avflow_harness
    h.pm = type(h.pm)(extra=[("testsrc", SourcePlugin())])
    h.reload()
    area = tmp_path / "area"
    root = area / "archive"
    drop = area / "drop"
    root.mkdir(parents=True)
    drop.mkdir(parents=True)
    env = ArchiveEnv(h, root, area, drop)
    env.client()
    return env


@pytest.fixture
def pdf() -> Callable[[str], bytes]:
    return make_pdf


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A private OpenSSH server (Debian openssh-server) on a free loopback port."""
    from archive_sshd import SSHD, start_sshd

    need(
        os.access(SSHD, os.X_OK) and shutil.which("ssh-keygen") is not None,
        "OpenSSH server (/usr/sbin/sshd)",
    )
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A wsgidav WebDAV server in its own process on a free loopback port."""
    from archive_dav import WSGIDAV, start_dav

    need(os.access(WSGIDAV, os.X_OK), "wsgidav (pip install avflow-archive[test])")
    server = start_dav(tmp_path_factory.mktemp("dav"))
    yield server
    server.stop()


@pytest.fixture
def fake_drive(tmp_path: Path) -> Any:
    """A local HTTPS stand-in for the Drive v3 API (see archive_gdrive.py)."""
    from archive_gdrive import FakeDrive

    server = FakeDrive(tmp_path)
    yield server
    server.stop()
