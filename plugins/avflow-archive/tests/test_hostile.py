"""A corpus of hostile file names and path templates: nothing is ever written outside the root.

Every file the run writes is found by walking the whole temporary area the test uses (the
workflows folder, avflow's home, the archive, a decoy folder beside it) plus ``/tmp`` for the
templates that aim there; files whose destination would leave the archive are in quarantine
with the reason recorded.
"""

from __future__ import annotations

import os
import unicodedata
import uuid
from pathlib import Path

import pytest
from avflow_archive.sanitize import MAX_COMPONENT_BYTES, archive_path, clean_component

MARK = f"avflow-escape-{uuid.uuid4().hex[:8]}"

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\config\\sam",
    "/etc/shadow",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.pdf",
    "..",
    ".",
    "...",
    "",
    " ",
    "   .  ",
    "a\x00b.pdf",
    "\x00",
    "\x00../x",
    "con",
    "CON.pdf",
    "nul.txt",
    "COM1",
    "com9.tar.gz",
    "LPT9.doc",
    "aux.",
    "PRN ",
    "Clock$",
    "x" * 1000 + ".pdf",
    "é" * 600 + ".pdf",
    "🙂" * 300 + ".pdf",
    "a" * 1000,
    "b" * 240 + "." + "c" * 40,
    "invoice\u202egnp.exe",
    "\u202e",
    "\u202e../../x",
    "\u200b.pdf",
    "\u2066evil\u2069.pdf",
    "\ufeffbom.pdf",
    "café.pdf",
    "cafe\u0301.pdf",
    "\ufb01le.pdf",
    "\u212bngstrom.pdf",
    "\u00c5ngstrom.pdf",
    "a/b/c.pdf",
    "a\\b.pdf",
    ".hidden",
    ".bashrc",
    ".avflow-0123456789abcdef.part",
    "~/x.pdf",
    "$HOME/x.pdf",
    "%2e%2e%2fetc%2fpasswd",
    "..%2f..%2fx",
    "file:///etc/passwd",
    "x\n.pdf",
    "x\r\ny.pdf",
    "tab\tname.pdf",
    "dots....",
    "trailing space ",
    "a:b.pdf",
    "a*b?.pdf",
    "<script>.pdf",
    "|pipe|",
    '"quoted".pdf',
    "\x1b[31mred.pdf",
    "\x7f.pdf",
    "..../x",
    "./x",
    "x/..",
    "../",
    "/",
    "//",
    "\\",
    "_quarantine/../../x",
    "a/" * 300 + "deep.pdf",
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc",
    "..\u2215..\u2215x",
    "\u2044etc",
    f"/tmp/{MARK}-name.pdf",
    "..\u0000/..\u0000/x",
    "nul",
    "CONIN$",
    "con .txt",
]

# (template, expected to be refused) — refused ones go to quarantine
HOSTILE_TEMPLATES = [
    ("../../{{ file.name }}", True),
    ("/etc/{{ file.name }}", True),
    (f"/tmp/{MARK}/{{{{ file.name }}}}", True),
    ("{{ '/' }}etc/x", True),
    ("{{ '..' }}/{{ file.name }}", True),
    ("a/../../{{ file.name }}", True),
    ("a/./../b/{{ file.name }}", True),
    ("..\\..\\{{ file.name }}", True),
    ("C:\\evil\\{{ file.name }}", True),
    ("c:/evil/{{ file.name }}", True),
    ("~/{{ file.name }}", True),
    ("~root/{{ file.name }}", True),
    ("\\\\server\\share\\{{ file.name }}", True),
    ("{{ '%c%c' % (46, 46) }}/x", True),
    ("{{ ['.', '.'] | join }}/{{ file.name }}", True),
    ("x/{{ '..' }}/../../y", True),
    ("..", True),
    ("../", True),
    ("/", True),
    ("", True),
    ("   ", True),
    ("{{ '../' * 3 }}{{ file.name }}", True),
    ("{{ file.name | replace(file.name, '..') }}/x", True),
    ("{{ '/etc/' ~ file.name }}", True),
    ("{{ 'a/' * 600 }}x", True),
    (" ../x", True),
    (".. /x", True),
    ("\u202e../x", True),
    ("x/\u200b../y", True),
    ("{{ '\x00' }}x", True),
    ("/{{ file.name }}", True),
    ("//{{ file.name }}", True),
    ("\\{{ file.name }}", True),
    (f"{{{{ '/tmp/{MARK}' }}}}/x", True),
    ("../outside/{{ file.name }}", True),
    ("link/{{ file.name }}", True),
    # values are cleaned before rendering: hostile senders and subjects cannot add folders
    ("{{ file.subject }}/{{ file.name }}", False),
    ("{{ file.sender_domain }}/{{ file.name }}", False),
    ("{{ file.sender_name }}/{{ file.sender }}/{{ file.name }}", False),
    ("{{ file.stem }}.{{ file.ext }}", False),
    ("{{ file.date }}/{{ file.name }}", False),
    ("{{ file.name }}/{{ file.name }}", False),
    ("CON/{{ file.name }}", False),
    ("a//b///{{ file.name }}", False),
    ("./{{ file.name }}", False),
    ("{{ file.subject }}{{ file.subject }}{{ file.subject }}/{{ file.name }}", False),
    ("{{ 'x' * 5000 }}/{{ file.name }}", False),
    ("NUL.txt/{{ file.name }}", False),
    ("...../{{ file.name }}", False),
    ("{{ file.year }}/{{ file.month }}/{{ file.day }}/{{ file.name }}", False),
]

# templates that cannot be rendered: the workflow's mistake, so the step fails before any effect
FAILING_TEMPLATES = [
    "{{ file['no_such_thing'] }}",  # file.no_such_thing: refused by validate
    "{{ file.date['no_such_attr'] }}/x",  # file.date.no_such_attr: refused by validate
    "{{ file.size / 0 }}",
]

HOSTILE_SENDERS = [
    "Evil <x@../../../etc>",
    "\u202e <a@b/c/../../d>",
    "../../.. <..@..>",
    "CON <con@con>",
]
HOSTILE_SUBJECTS = ["../../../etc/cron.d", "/etc/passwd", "a\x00b", "\u202etxt.exe", "..", "C:\\x"]


def test_corpus_is_big_enough():
    assert len(HOSTILE_NAMES) + len(HOSTILE_TEMPLATES) >= 100
    assert len(HOSTILE_NAMES) >= 60 and len(HOSTILE_TEMPLATES) >= 40


BIDI = {
    chr(c)
    for c in [
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x200E,
        0x200F,
        0x061C,
        0x200B,
        0xFEFF,
    ]
}


def _component_ok(part: str) -> None:
    assert part not in ("", ".", ".."), part
    assert "/" not in part and "\\" not in part and "\x00" not in part
    assert len(part.encode()) <= MAX_COMPONENT_BYTES
    assert unicodedata.is_normalized("NFC", part)
    assert not BIDI & set(part)
    assert not any(unicodedata.category(c) == "Cc" for c in part)
    assert not part.startswith(".") and not part.endswith((".", " "))
    assert part.split(".")[0].upper() not in {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "COM1",
        "LPT9",
        "CLOCK$",
        "CONIN$",
    }


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "\ud800.pdf", "\udcff"])
def test_clean_component_makes_one_safe_component(name):
    _component_ok(clean_component(name))


def test_normalisation_forms_meet():
    assert clean_component("cafe\u0301.pdf") == clean_component("café.pdf")
    assert clean_component("\u212bngstrom.pdf") == clean_component("\u00c5ngstrom.pdf")


def test_long_names_keep_their_extension():
    assert clean_component("x" * 1000 + ".pdf").endswith(".pdf")
    assert clean_component("é" * 600 + ".pdf").endswith(".pdf")
    assert clean_component("invoice\u202egnp.exe") == "invoicegnp.exe"


@pytest.mark.parametrize(
    "rendered", ["../x", "/etc/x", "a/../../x", "C:\\x", "..\\x", "~/x", "", "a\x00b"]
)
def test_archive_path_refuses_escapes(rendered):
    checked = archive_path(rendered)
    assert checked.path is None and checked.reason


def _walk_files(top: Path) -> set[Path]:
    found = set()
    for root, dirs, files in os.walk(top, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            found.add(Path(root) / name)
    return found


def _tmp_marks() -> list[str]:
    return [n for n in os.listdir("/tmp") if MARK in n]


def _backend(backend, archive, request, tmp_path):
    """Point the client's archive at ``backend``; return (root, area to walk, home)."""
    import uuid as _uuid

    if backend == "local":
        return archive.root, tmp_path
    if backend == "sftp":
        sshd = request.getfixturevalue("sshd")
        root = sshd.root / _uuid.uuid4().hex[:8]
        root.mkdir()
        archive.h.secret("acme", "nas_key", sshd.client_key)
        account = {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.user,
            "private_key": "${secret:nas_key}",
            "host_key": sshd.host_key_line,
            "path": str(root),
        }
    else:
        dav = request.getfixturevalue("dav")
        root = dav.root / _uuid.uuid4().hex[:8]
        root.mkdir()
        archive.h.secret("acme", "dav_pw", dav.password)
        account = {
            "type": "webdav",
            "url": dav.url,
            "username": dav.user,
            "password": "${secret:dav_pw}",
            "path": "/" + root.name,
        }
    archive.h.client(
        "acme", {"name": "Acme", "timezone": "Europe/Rome", "accounts": {"archive": account}}
    )
    return root, root.parent.parent  # the server's whole folder tree


@pytest.mark.parametrize("backend", ["local", "sftp", "webdav"])
def test_hostile_corpus_writes_nothing_outside_the_root(archive, tmp_path, request, backend):
    root, area = _backend(backend, archive, request, tmp_path)
    outside = root.parent / f"outside-{root.name}"
    outside.mkdir()
    if backend != "webdav":  # a WebDAV client cannot see the server's own links
        (root / "link").symlink_to(outside, target_is_directory=True)
    items, expected = [], []
    for i, name in enumerate(HOSTILE_NAMES):
        items.append(
            {
                "data": archive.b64(f"name {i}".encode()),
                "name": name,
                "sender": HOSTILE_SENDERS[i % len(HOSTILE_SENDERS)],
                "subject": HOSTILE_SUBJECTS[i % len(HOSTILE_SUBJECTS)],
                "date": "2026-02-03T10:00:00Z",
            }
        )
        expected.append(False)
    rules = []
    for j, (template, refused) in enumerate(HOSTILE_TEMPLATES):
        items.append(
            {
                "data": archive.b64(f"template {j}".encode()),
                "name": f"doc{j}.pdf",
                "sender": HOSTILE_SENDERS[j % len(HOSTILE_SENDERS)],
                "subject": HOSTILE_SUBJECTS[j % len(HOSTILE_SUBJECTS)],
                "date": "2026-02-03T10:00:00Z",
            }
        )
        rules.append({"name": f"t{j}", "match": {"name": f"doc{j}.pdf"}, "path": template or " "})
        expected.append(refused and not (backend == "webdav" and template.startswith("link/")))
    ref = archive.email_workflow(
        items,
        rules=rules,
        path="Fatture/{{ file.sender_domain }}/{{ file.subject }}/{{ file.name }}",
    )
    before = _walk_files(tmp_path) | _walk_files(area)
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error

    entries = result.outputs["archive"]["files"]
    assert len(entries) == len(items)
    for entry, refused, item in zip(entries, expected, items, strict=True):
        want = "quarantined" if refused else "filed"
        assert entry["status"] == want, (item["name"], entry)
        if refused:
            assert entry["reason"] and entry["path"].startswith("_quarantine/")

    # the whole area: every new file is in the archive or in avflow's own home
    after = _walk_files(tmp_path) | _walk_files(area)
    new = after - before
    assert new, "the run wrote nothing"
    strays = [p for p in new if not (p.is_relative_to(root) or p.is_relative_to(archive.h.home))]
    assert strays == []
    assert list(outside.iterdir()) == []
    assert _tmp_marks() == []
    archived = [p for p in new if p.is_relative_to(root)]
    assert len(archived) == len(items)  # one file each, no temporary file left
    for p in archived:
        assert os.path.realpath(p).startswith(str(root.resolve()) + os.sep)
        for part in p.relative_to(root).parts:
            _component_ok(part)

    # the run records why each quarantined file is there: outputs, audit trail and index
    notes = [r for r in result.audit if r.get("event") == "step.note"]
    assert len(notes) == sum(expected)
    assert all("quarantined" in r["description"] for r in notes)
    from avflow_archive.index import ArchiveIndex

    index = ArchiveIndex(archive.h.home / "plugins" / "archive" / "index.db")
    quarantined = index.documents("acme", status="quarantined")
    assert len(quarantined) == sum(expected) and all(d.reason for d in quarantined)


@pytest.mark.parametrize("template", FAILING_TEMPLATES)
def test_a_template_that_cannot_render_fails_before_any_effect(archive, tmp_path, template):
    items = [{"data": archive.b64(b"doc"), "name": "doc.pdf", "date": "2026-02-03T10:00:00Z"}]
    ref = archive.email_workflow(items, path=template)
    before = _walk_files(tmp_path)
    result = archive.h.run(ref)
    assert result.status == "failed" and "path template failed for doc.pdf" in (result.error or "")
    assert result.effects == []
    new = _walk_files(tmp_path) - before
    assert [p for p in new if not p.is_relative_to(archive.h.home)] == []


def test_a_quarantine_folder_that_leads_out_stops_the_step(archive, tmp_path):
    outside = archive.area / "outside"
    outside.mkdir()
    (archive.root / "_quarantine").symlink_to(outside, target_is_directory=True)
    ref = archive.email_workflow(
        [{"data": archive.b64(b"x"), "name": "x.pdf"}], path="../{{ file.name }}"
    )
    result = archive.h.run(ref)
    assert result.status == "failed"
    assert "quarantine folder _quarantine leads out of the archive" in result.error
    assert list(outside.iterdir()) == []
