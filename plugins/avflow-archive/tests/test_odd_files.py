"""Odd files and unlucky timing (issue 12): a drop file swapped for a link, names that are not
UTF-8, attachments whose names collide, a clock ahead, the same content twice in one run.

Cases that depend on the archive's backend run against a local folder, a real OpenSSH server
and a real WebDAV server (wsgidav).
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from avflow_archive import dropfolder
from avflow_archive.index import ArchiveIndex

BACKENDS = ["local", "sftp", "webdav"]


@pytest.fixture(params=BACKENDS)
def anywhere(request, archive):
    """The client's archive account is a local folder, an sftp folder or a webdav folder;
    ``archive.files_root`` is where its files end up on this machine."""
    kind = request.param
    accounts = {"archive": {"type": "local", "path": str(archive.root)}}
    archive.files_root = archive.root
    if kind == "sftp":
        sshd = request.getfixturevalue("sshd")
        root = sshd.root / uuid.uuid4().hex[:8]
        root.mkdir()
        archive.h.secret("acme", "nas_key", sshd.client_key)
        accounts["archive"] = {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.user,
            "private_key": "${secret:nas_key}",
            "host_key": sshd.host_key_line,
            "path": str(root),
        }
        archive.files_root = root
    elif kind == "webdav":
        dav = request.getfixturevalue("dav")
        folder = uuid.uuid4().hex[:8]
        (dav.root / folder).mkdir()
        archive.h.secret("acme", "dav_pw", dav.password)
        accounts["archive"] = {
            "type": "webdav",
            "url": dav.url,
            "username": dav.user,
            "password": "${secret:dav_pw}",
            "path": f"/{folder}",
        }
        archive.files_root = dav.root / folder
    archive.kind = kind
    archive.accounts = accounts
    roots = [str(archive.area)]  # the archive and the drop folder are outside acme's folder
    archive.h.client(
        "acme",
        {"name": "Acme", "timezone": "Europe/Rome", "accounts": accounts, "roots": roots},
    )
    return archive


def _stored(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _drop(env, name: str | bytes, data: bytes, mtime: float | None = None) -> Path:
    raw = name if isinstance(name, bytes) else name.encode()
    path = Path(os.fsdecode(os.path.join(os.fsencode(env.drop), raw)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = time.time() - 60 if mtime is None else mtime
    os.utime(path, (when, when))
    return path


def _index(env) -> ArchiveIndex:
    return ArchiveIndex(env.h.home / "plugins" / "archive" / "index.db")


# -- 1. a drop file replaced by a symbolic link between the listing and the filing ------------
def _swap_after_listing(monkeypatch, swap):
    real = dropfolder.settled_files

    def listed_then_swapped(*args, **kwargs):
        items = real(*args, **kwargs)
        swap()
        return items

    monkeypatch.setattr(dropfolder, "settled_files", listed_then_swapped)


def test_a_drop_file_swapped_for_a_link_after_the_listing_is_not_followed(
    anywhere, monkeypatch, tmp_path
):
    env = anywhere
    secret = tmp_path / "outside" / "payroll.pdf"
    secret.parent.mkdir()
    secret.write_bytes(b"%PDF-1.4 not the client's")
    victim = _drop(env, "scan.pdf", b"%PDF-1.4 the scan")
    _drop(env, "other.pdf", b"%PDF-1.4 another scan")

    def swap():
        victim.unlink()
        victim.symlink_to(secret)

    _swap_after_listing(monkeypatch, swap)
    result = env.h.run(env.scan_workflow(path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    got = {f["name"]: f for f in result.outputs["archive"]["files"]}
    assert got["scan.pdf"]["status"] == "changed"
    assert "symbolic link" in got["scan.pdf"]["reason"]
    assert got["other.pdf"]["status"] == "filed"
    assert _stored(env.files_root) == {"other.pdf": b"%PDF-1.4 another scan"}
    assert b"not the client's" not in b"".join(_stored(env.files_root).values())
    assert [d.name for d in _index(env).documents("acme")] == ["other.pdf"]
    assert victim.is_symlink() and secret.exists()  # the link is left alone, not deleted


def test_a_drop_subfolder_swapped_for_a_link_is_not_followed(archive, monkeypatch, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "scan.pdf").write_bytes(b"%PDF-1.4 from elsewhere")
    _drop(archive, "sub/scan.pdf", b"%PDF-1.4 the scan")

    def swap():
        sub = archive.drop / "sub"
        sub.rename(archive.drop / ".moved")
        sub.symlink_to(outside)

    _swap_after_listing(monkeypatch, swap)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    [entry] = result.outputs["archive"]["files"]
    assert (entry["status"], entry["path"]) == ("changed", None)
    assert "another file took its place" in entry["reason"]
    assert archive.archived() == {}
    assert (outside / "scan.pdf").exists()


def test_a_drop_file_replaced_by_another_file_after_the_listing_is_left(archive, monkeypatch):
    victim = _drop(archive, "scan.pdf", b"%PDF-1.4 listed")

    def swap():
        fresh = archive.drop / ".swap"
        fresh.write_bytes(b"%PDF-1.4 written after the listing")
        fresh.replace(victim)

    _swap_after_listing(monkeypatch, swap)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    [entry] = result.outputs["archive"]["files"]
    assert entry["status"] == "changed"
    assert archive.archived() == {}
    assert victim.read_bytes() == b"%PDF-1.4 written after the listing"


# -- 2. names that are not UTF-8 -----------------------------------------------------------------
def test_a_name_that_is_not_utf8_is_filed_indexed_and_keeps_its_stem(anywhere):
    env = anywhere
    odd = _drop(env, b"\xff\xfe.pdf", b"%PDF-1.4 odd name")
    _drop(env, b"caf\xe9 50%.pdf", b"%PDF-1.4 latin-1 name")
    _drop(env, "plain.pdf", b"%PDF-1.4 plain")
    result = env.h.run(env.scan_workflow(path="Scansioni/{{ file.name }}"))
    assert result.status == "succeeded", result.error
    got = {f["name"]: f for f in result.outputs["archive"]["files"]}
    assert sorted(got) == ["%FF%FE.pdf", "caf%E9 50%25.pdf", "plain.pdf"]
    assert all(f["status"] == "filed" and f["source_removed"] for f in got.values())
    # the rule is reversible: percent-decoding gives back the bytes on disk
    assert unquote_to_bytes("%FF%FE.pdf") == b"\xff\xfe.pdf"
    assert got["%FF%FE.pdf"]["source"] == f"drop:{env.drop}/%FF%FE.pdf"
    assert odd.name == os.fsdecode(b"\xff\xfe.pdf")
    stored = _stored(env.files_root)
    expect_names = {"%FF%FE.pdf", "caf%E9 50%25.pdf", "plain.pdf"}
    if env.kind == "webdav":  # WebDAV names avoid %: see docs/archive.md
        expect_names = {"_FF_FE.pdf", "caf_E9 50_25.pdf", "plain.pdf"}
    assert {p.split("/", 1)[1] for p in stored} == expect_names
    assert sorted(d.name for d in _index(env).documents("acme")) == sorted(got)
    assert [p for p in env.drop.rglob("*") if p.is_file()] == []


def test_one_failing_file_is_named_and_the_others_are_filed(archive, monkeypatch):
    from avflow_archive import filing

    _drop(archive, b"bad\xff.pdf", b"%PDF-1.4 breaks")
    _drop(archive, "good1.pdf", b"%PDF-1.4 one")
    _drop(archive, "good2.pdf", b"%PDF-1.4 two")
    real = filing.Filer._index

    def broken_index(self, item, *args, **kwargs):
        if "bad" in item.name:
            raise UnicodeEncodeError("utf-8", item.name, 3, 4, "surrogates not allowed")
        return real(self, item, *args, **kwargs)

    monkeypatch.setattr(filing.Filer, "_index", broken_index)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    got = {f["name"]: f for f in result.outputs["archive"]["files"]}
    assert got["bad%FF.pdf"]["status"] == "failed"
    assert "surrogates not allowed" in got["bad%FF.pdf"]["reason"]
    assert got["good1.pdf"]["status"] == got["good2.pdf"]["status"] == "filed"
    notes = [r for r in archive.h.audit("acme") if "could not file" in str(r)]
    assert len(notes) == 1 and "could not file bad%FF.pdf" in str(notes[0])
    assert sorted(p.name for p in archive.drop.iterdir()) == [os.fsdecode(b"bad\xff.pdf")]


def test_a_failing_attachment_fails_the_step_after_filing_the_others(archive, monkeypatch):
    from avflow_archive import filing

    real = filing.Filer._index

    def broken_index(self, item, *args, **kwargs):
        if item.name == "bad.pdf":
            raise RuntimeError("index broken for this one")
        return real(self, item, *args, **kwargs)

    monkeypatch.setattr(filing.Filer, "_index", broken_index)
    files = [
        {"data": archive.b64(b"bad content"), "name": "bad.pdf"},
        {"data": archive.b64(b"good content"), "name": "good.pdf"},
    ]
    result = archive.h.run(archive.email_workflow(files, path="{{ file.name }}"))
    assert result.status == "failed"
    assert "1 of 2 files could not be filed" in result.error
    assert "bad.pdf: index broken for this one" in result.error
    assert archive.archived()["good.pdf"] == b"good content"


# -- 3. attachments whose names collide once made safe -------------------------------------------
COLLIDING = ["a/b.pdf", "a\\b.pdf", "x:y.txt", "x?y.txt", "x*y.txt", "twin.pdf", "twin.pdf"]


def test_colliding_attachment_names_each_content_filed_once(anywhere, tmp_path):
    env = anywhere
    maildir = tmp_path / "Maildir"
    box = mailbox.Maildir(maildir, create=True)
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "fatture@enel.it", "studio@acme.it", "Fattura n. 5"
    m["Date"], m["Message-ID"] = "Sat, 14 Mar 2026 09:30:00 +0000", "<c1@enel.it>"
    m.set_content("In allegato.")
    contents = {}
    for i, name in enumerate(COLLIDING):
        data = f"attachment {i} named {name}".encode()
        contents[hashlib.sha256(data).hexdigest()] = data
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    box.add(m)
    box.close()
    accounts = {**env.accounts, "mail": {"type": "maildir", "path": str(maildir)}}
    roots = [str(env.area), str(maildir)]
    env.h.client(
        "acme", {"name": "Acme", "timezone": "Europe/Rome", "accounts": accounts, "roots": roots}
    )
    env.h.workflow(
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
                                "name": "all",
                                "match": {"subject": {"contains": "fattura"}},
                                "actions": ["collect_attachments"],
                            }
                        ],
                    },
                },
                {
                    "id": "file",
                    "uses": "archive.file",
                    "with": {
                        "account": "archive",
                        "files": "{{ steps.triage.outputs.attachments }}",
                        "path": "{{ file.name }}",
                    },
                },
            ]
        },
    )
    result = env.h.run("acme/inbox")
    assert result.status == "succeeded", result.error
    entries = result.outputs["file"]["files"]
    assert [e["status"] for e in entries] == ["filed"] * len(COLLIDING)
    assert len({e["path"] for e in entries}) == len(COLLIDING)
    stored = _stored(env.files_root)
    assert {hashlib.sha256(d).hexdigest(): d for d in stored.values()} == contents
    assert len(stored) == len(COLLIDING)
    spooled = result.outputs["triage"]["attachments"]
    assert [a["name"] for a in spooled] == COLLIDING  # the original names, as metadata
    assert len({a["path"] for a in spooled}) == len(COLLIDING)


# -- 4. settle: the time the file was first seen unchanged, not its mtime ------------------------
def test_a_file_with_a_future_mtime_is_filed_after_the_settle_delay(archive):
    future = time.time() + 86400 * 365  # a scanner whose clock is a year ahead
    _drop(archive, "ahead.pdf", b"%PDF-1.4 from the future", mtime=future)
    ref = archive.scan_workflow(path="{{ file.name }}", settle=30)
    first = archive.h.run(ref)
    assert first.status == "succeeded", first.error
    assert first.outputs["archive"]["files"] == []  # first seen now: settling
    archive.h.clock.advance(10)
    assert archive.h.run(ref).outputs["archive"]["files"] == []  # seen 10 s: still settling
    archive.h.clock.advance(25)
    third = archive.h.run(ref)
    assert [f["status"] for f in third.outputs["archive"]["files"]] == ["filed"]
    assert archive.archived() == {"ahead.pdf": b"%PDF-1.4 from the future"}


def test_settle_restarts_when_the_file_changes_and_ignores_an_old_mtime(archive):
    path = _drop(archive, "slow.pdf", b"%PDF-1.4 part", mtime=time.time() - 86400)
    ref = archive.scan_workflow(path="{{ file.name }}", settle=100)
    assert archive.h.run(ref).outputs["archive"]["files"] == []  # an old mtime proves nothing
    archive.h.clock.advance(60)
    path.write_bytes(b"%PDF-1.4 part and more")  # still being written (a slow clock's mtime)
    os.utime(path, (time.time() - 86000, time.time() - 86000))
    assert archive.h.run(ref).outputs["archive"]["files"] == []
    archive.h.clock.advance(60)
    assert archive.h.run(ref).outputs["archive"]["files"] == []  # 60 s since it changed
    archive.h.clock.advance(45)
    [entry] = archive.h.run(ref).outputs["archive"]["files"]
    assert entry["status"] == "filed"
    assert archive.archived() == {"slow.pdf": b"%PDF-1.4 part and more"}


def test_a_short_settle_is_waited_for_within_the_scan(archive):
    _drop(archive, "ready.pdf", b"%PDF-1.4 ready", mtime=time.time() + 3600)
    t0 = time.monotonic()
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}", settle=1))
    assert time.monotonic() - t0 >= 1  # seen, then seen again unchanged a second later
    assert [f["status"] for f in result.outputs["archive"]["files"]] == ["filed"]


def test_a_dry_run_does_not_start_the_settle_clock(archive):
    _drop(archive, "d.pdf", b"%PDF-1.4 d")
    ref = archive.scan_workflow(path="{{ file.name }}", settle=30)
    archive.h.run(ref, dry_run=True)
    archive.h.clock.advance(60)
    assert archive.h.run(ref).outputs["archive"]["files"] == []  # first really seen now


# -- smaller -------------------------------------------------------------------------------------
def test_template_values_are_one_component_each(anywhere):
    env = anywhere
    data = env.pdf("x")
    files = [{"data": env.b64(data), "name": "doc.pdf"}]
    ref = env.email_workflow(files, path="{{ file.type }}/{{ file.name }}")
    result = env.h.run(ref)
    assert result.status == "succeeded", result.error
    assert result.outputs["archive"]["filed"] == ["application_pdf/doc.pdf"]
    assert _stored(env.files_root) == {"application_pdf/doc.pdf": data}  # one folder, not two


@pytest.mark.parametrize(
    ("name", "filed"),
    [
        ("\udcff\udcfe.pdf", "%FF%FE.pdf"),
        ("\u200b.pdf", "unnamed.pdf"),
        ("a.pdf\t", "a.pdf"),
        ("tab\tname.pdf", "tab name.pdf"),
        ("a.pdf\r\n", "a.pdf"),
    ],
)
def test_a_stem_is_never_lost_and_whitespace_is_not_a_character(anywhere, name, filed):
    env = anywhere
    raw = os.fsencode(name)
    data = b"content of " + raw
    files = [{"data": env.b64(data), "name_bytes": env.b64(raw)}]
    result = env.h.run(env.email_workflow(files, path="{{ file.stem }}.{{ file.ext }}"))
    assert result.status == "succeeded", result.error
    if env.kind == "webdav":
        filed = filed.replace("%", "_")  # WebDAV names: '%' is '_' (docs/archive.md)
    assert result.outputs["archive"]["filed"] == [filed]
    assert _stored(env.files_root) == {filed: data}


def test_same_content_twice_in_one_run_is_a_duplicate(anywhere):
    env = anywhere
    same = env.pdf("Fattura 7")
    files = [
        {"data": env.b64(same), "name": "fattura.pdf"},
        {"data": env.b64(same), "name": "fattura.pdf"},
        {"data": env.b64(same), "name": "copia.pdf"},
    ]
    result = env.h.run(env.email_workflow(files, path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    got = [(f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [
        ("filed", "fattura.pdf"),
        ("duplicate", "fattura.pdf"),
        ("duplicate", "fattura.pdf"),
    ]
    assert _stored(env.files_root) == {"fattura.pdf": same}
    assert len(_index(env).duplicates("acme")) == 2


def test_same_content_twice_in_one_drop_folder_is_a_duplicate(archive):
    _drop(archive, "a/scan.pdf", b"%PDF-1.4 same", mtime=time.time() - 100)
    _drop(archive, "b/scan.pdf", b"%PDF-1.4 same", mtime=time.time() - 50)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    got = [(f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [("filed", "scan.pdf"), ("duplicate", "scan.pdf")]
    assert [p for p in archive.drop.rglob("*") if p.is_file()] == []


def test_a_spool_link_leading_out_says_so(archive, tmp_path):
    import avflow

    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")

    class LinkPlugin:
        @staticmethod
        @avflow.hookimpl
        def register_actions(register):
            from pydantic import BaseModel

            class P(BaseModel):
                target: str

            def link(ctx, params):
                ctx.spool.mkdir(parents=True, exist_ok=True)
                path = ctx.spool / "attachment.pdf"
                path.symlink_to(params.target)
                return {"files": [{"path": str(path), "name": "x.pdf"}]}

            register(avflow.Action("testlink.make", P, link))

    archive.h.pm = type(archive.h.pm)(extra=[("testlink", LinkPlugin())])
    archive.h.reload()
    archive.h.workflow(
        "acme",
        "steal",
        {
            "steps": [
                {"id": "mk", "uses": "testlink.make", "with": {"target": str(secret)}},
                {
                    "uses": "archive.file",
                    "with": {"account": "archive", "files": "{{ steps.mk.outputs.files }}"},
                },
            ]
        },
    )
    result = archive.h.run("acme/steal")
    assert result.status == "failed"
    assert "is a symbolic link" in result.error and "outside it" in result.error
    assert "not in this run's spool" not in result.error
    assert archive.archived() == {}
