"""archive.scan: a drop folder, filed and emptied only once each copy is durable."""

from __future__ import annotations

import contextlib
import os
import time

from avflow.testing import SimulatedCrash, check_action_contract


def _drop(env, name: str, data: bytes, age: float = 60.0):
    path = env.drop / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def test_scan_files_and_removes_sources(archive):
    _drop(archive, "scan1.pdf", archive.pdf("Contratto Acme"))
    _drop(archive, "sub/scan2.pdf", b"%PDF-1.4 second")
    ref = archive.scan_workflow(path="Scansioni/{{ file.name }}")
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error
    files = result.outputs["archive"]["files"]
    assert sorted(f["path"] for f in files) == ["Scansioni/scan1.pdf", "Scansioni/scan2.pdf"]
    assert all(f["source_removed"] for f in files)
    assert sorted(archive.archived()) == ["Scansioni/scan1.pdf", "Scansioni/scan2.pdf"]
    assert [p for p in archive.drop.rglob("*") if p.is_file()] == []
    kinds = [e.kind for e in result.effects if e.status == "done"]
    assert kinds.count("archive.file") == 2 and kinds.count("archive.remove_source") == 2
    # removals come after the copies of their batch (made durable together)
    assert kinds == ["archive.file"] * 2 + ["archive.remove_source"] * 2


def test_unsettled_hidden_temporary_and_linked_files_stay(archive, tmp_path):
    _drop(archive, "fresh.pdf", b"still being written", age=0)
    _drop(archive, ".hidden.pdf", b"h")
    _drop(archive, "upload.pdf.part", b"p")
    _drop(archive, "~$lock.docx", b"l")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the archive")
    (archive.drop / "link.pdf").symlink_to(secret)
    ref = archive.scan_workflow(settle=30)
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error
    assert result.outputs["archive"]["files"] == []
    assert archive.archived() == {}
    assert secret.read_text() == "not for the archive"
    assert sorted(p.name for p in archive.drop.iterdir()) == [
        ".hidden.pdf",
        "fresh.pdf",
        "link.pdf",
        "upload.pdf.part",
        "~$lock.docx",
    ]


def test_duplicates_and_quarantined_files_leave_the_drop_folder_unmatched_stay(archive):
    (archive.root / "x.pdf").write_bytes(b"already archived")
    _drop(archive, "x.pdf", b"already archived")
    _drop(archive, "note.txt", b"no rule for me")
    _drop(archive, "weird.pdf", b"goes to quarantine")
    rules = [
        {"name": "pdf", "match": {"name": "x.pdf"}, "path": "{{ file.name }}"},
        {"name": "escape", "match": {"name": "weird.pdf"}, "path": "../{{ file.name }}"},
    ]
    result = archive.h.run(archive.scan_workflow(rules=rules, path=None))
    got = {f["name"]: f["status"] for f in result.outputs["archive"]["files"]}
    assert got == {"x.pdf": "duplicate", "note.txt": "unmatched", "weird.pdf": "quarantined"}
    assert sorted(p.name for p in archive.drop.iterdir()) == ["note.txt"]
    assert sorted(archive.archived()) == [
        "_quarantine/"
        + next(
            f["path"] for f in result.outputs["archive"]["files"] if f["name"] == "weird.pdf"
        ).split("/", 1)[1],
        "x.pdf",
    ]


def test_a_file_changed_after_it_was_read_is_not_removed(archive, monkeypatch):
    src = _drop(archive, "a.pdf", b"version 1")
    from avflow_archive import dropfolder

    real = dropfolder.remove_source

    def rewrite_then_remove(item, unsynced=None):
        src.write_bytes(b"version 2, rescanned")  # the scanner overwrote it meanwhile
        return real(item, unsynced)

    monkeypatch.setattr(dropfolder, "remove_source", rewrite_then_remove)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    [entry] = result.outputs["archive"]["files"]
    assert entry["source_removed"] is False
    assert src.read_bytes() == b"version 2, rescanned"
    assert archive.archived() == {"a.pdf": b"version 1"}


def test_drop_folder_inside_the_archive_is_refused(archive):
    inner = archive.root / "incoming"
    inner.mkdir()
    archive.h.workflow(
        "acme",
        "loop",
        {
            "steps": [
                {
                    "uses": "archive.scan",
                    "with": {"account": "archive", "folder": str(inner), "settle": 0},
                }
            ]
        },
    )
    result = archive.h.run("acme/loop")
    assert result.status == "failed"
    assert "overlap" in result.error


def test_missing_drop_folder_is_a_clear_error(archive):
    archive.h.workflow(
        "acme",
        "nofolder",
        {
            "steps": [
                {
                    "uses": "archive.scan",
                    "with": {
                        "account": "archive",
                        "folder": str(archive.area / "nope"),
                        "settle": 0,
                    },
                }
            ]
        },
    )
    result = archive.h.run("acme/nofolder")
    assert result.status == "failed" and result.error.endswith("does not exist")


def test_crash_between_copy_and_removal_resumes_and_reports_every_file(archive):
    for i in range(4):
        _drop(archive, f"d{i}.pdf", f"doc {i}".encode(), age=100 - i)
    ref = archive.scan_workflow(path="{{ file.name }}")
    # one batch: four copies, then four removals; the 6th effect is the removal of d1
    archive.h.crash_at(6, "after")
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    assert sorted(p.name for p in archive.drop.iterdir()) == ["d2.pdf", "d3.pdf"]
    [resumed] = archive.h.resume()
    assert resumed.status == "succeeded", resumed.error
    files = resumed.outputs["archive"]["files"]
    assert sorted(f["name"] for f in files) == ["d0.pdf", "d1.pdf", "d2.pdf", "d3.pdf"]
    assert all(f["status"] == "filed" and f["source_removed"] for f in files)
    assert archive.archived() == {f"d{i}.pdf": f"doc {i}".encode() for i in range(4)}
    assert list(archive.drop.iterdir()) == []


def test_scan_action_contract(archive):
    for i in range(3):
        _drop(archive, f"c{i}.pdf", f"c{i}".encode())

    def world():
        return archive.archived(), sorted(p.name for p in archive.drop.iterdir())

    check_action_contract(
        archive.h, archive.scan_workflow(path="{{ file.name }}"), remote_state=world
    )
    assert world() == ({f"c{i}.pdf": f"c{i}".encode() for i in range(3)}, [])


def test_archive_file_takes_a_folder_too(archive):
    _drop(archive, "f.pdf", b"via archive.file")
    archive.h.workflow(
        "acme",
        "viafile",
        {
            "steps": [
                {
                    "id": "archive",
                    "uses": "archive.file",
                    "with": {
                        "account": "archive",
                        "folder": str(archive.drop),
                        "settle": 0,
                        "path": "{{ file.name }}",
                    },
                }
            ]
        },
    )
    result = archive.h.run("acme/viafile")
    assert result.outputs["archive"]["counts"] == {"filed": 1}
    assert archive.archived() == {"f.pdf": b"via archive.file"}


def test_an_unreadable_file_is_reported_and_left(archive, monkeypatch):
    from avflow_archive import filing

    locked = _drop(archive, "locked.pdf", b"secret")
    _drop(archive, "ok.pdf", b"fine")
    real = filing.Source.open

    def open_source(path, expect=None):
        if path == locked:  # as a file of another user would be (the tests may run as root)
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, expect)

    monkeypatch.setattr(filing.Source, "open", open_source)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    got = {f["name"]: (f["status"], f.get("reason")) for f in result.outputs["archive"]["files"]}
    assert got == {
        "locked.pdf": ("unreadable", "cannot read the file: Permission denied"),
        "ok.pdf": ("filed", None),
    }
    assert sorted(p.name for p in archive.drop.iterdir()) == ["locked.pdf"]


def test_a_file_that_vanishes_before_it_is_read_is_passed_over(archive, monkeypatch):
    from avflow_archive import filing

    gone = _drop(archive, "gone.pdf", b"taken")
    _drop(archive, "ok.pdf", b"fine")
    real = filing.Source.open

    def open_source(path, expect=None):
        if path == gone:
            path.unlink()  # another process took it between the listing and the read
        return real(path, expect)

    monkeypatch.setattr(filing.Source, "open", open_source)
    result = archive.h.run(archive.scan_workflow(path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert [f["name"] for f in result.outputs["archive"]["files"]] == ["ok.pdf"]
    assert archive.archived() == {"ok.pdf": b"fine"}
