"""Big steps on a local archive: a batch of files is one effect, and a crash mid-batch still
ends with every file filed exactly once and every drop file removed only once its copy is safe."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time

from avflow.testing import SimulatedCrash

N = 40  # above the size at which a step groups its writes (GROUP_MIN_FILES)


def _files(env, n=N):
    return [{"data": env.b64(f"document {i}".encode()), "name": f"doc{i}.pdf"} for i in range(n)]


def _drop_many(env, n=N):
    for i in range(n):
        path = env.drop / f"scan{i:02d}.pdf"
        path.write_bytes(f"%PDF-1.4 scan {i}".encode())
        old = time.time() - 600 + i
        os.utime(path, (old, old))


def test_a_big_step_writes_each_batch_as_one_effect(archive):
    result = archive.h.run(archive.email_workflow(_files(archive), path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert result.outputs["archive"]["counts"] == {"filed": N}
    writes = [e for e in result.effects if e.kind == "archive.file"]
    assert len(writes) == 1 and writes[0].status == "done"
    assert f"file {N} documents" in writes[0].description
    assert archive.archived() == {f"doc{i}.pdf": f"document {i}".encode() for i in range(N)}


def test_a_crash_after_a_batch_was_written_is_reconciled(archive):
    ref = archive.email_workflow(_files(archive), path="{{ file.name }}")
    archive.h.crash_at(1, "after")  # every file written, the outcome not recorded
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    [resumed] = archive.h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert resumed.outputs["archive"]["counts"] == {"filed": N}
    stored = archive.archived()
    assert stored == {f"doc{i}.pdf": f"document {i}".encode() for i in range(N)}


def test_a_crash_before_a_batch_was_written_writes_it_once(archive):
    ref = archive.email_workflow(_files(archive), path="{{ file.name }}")
    archive.h.crash_at(1, "before")
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    assert archive.archived() == {}
    [resumed] = archive.h.resume()
    assert resumed.outputs["archive"]["counts"] == {"filed": N}
    assert len(archive.archived()) == N


def test_one_file_failing_in_a_batch_fails_alone(archive, monkeypatch):
    from avflow_archive import batch

    real = batch.file_into

    def file_into(store, rel, *args, **kwargs):
        if rel.name == "doc7.pdf":
            raise OSError(28, "No space left on device")
        return real(store, rel, *args, **kwargs)

    monkeypatch.setattr(batch, "file_into", file_into)
    result = archive.h.run(archive.email_workflow(_files(archive), path="{{ file.name }}"))
    assert result.status == "failed"
    assert "1 of 40 files could not be filed" in result.error
    assert "doc7.pdf: cannot write" in result.error and "No space left" in result.error
    assert len(archive.archived()) == N - 1


def test_a_big_scan_removes_sources_once_their_batch_is_durable(archive):
    _drop_many(archive)
    ref = archive.scan_workflow(path="{{ file.name }}")
    # two effects per batch: its writes, then its removals; crash after the first removals
    archive.h.crash_at(2, "after")
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    [resumed] = archive.h.resume()
    assert resumed.status == "succeeded", resumed.error
    files = resumed.outputs["archive"]["files"]
    assert len(files) == N and all(f["status"] == "filed" for f in files)
    assert all(f["source_removed"] for f in files)
    hashes = [hashlib.sha256(d).hexdigest() for d in archive.archived().values()]
    assert len(hashes) == len(set(hashes)) == N
    assert list(archive.drop.iterdir()) == []


def test_same_content_twice_in_a_batch_is_a_duplicate(archive):
    files = _files(archive)
    files.append({"data": files[3]["data"], "name": "copy-of-doc3.pdf"})
    result = archive.h.run(archive.email_workflow(files, path="{{ file.name }}"))
    got = result.outputs["archive"]["files"]
    assert got[-1]["status"] == "duplicate" and got[-1]["path"] == "doc3.pdf"
    assert result.outputs["archive"]["counts"] == {"duplicate": 1, "filed": N}


def test_a_big_step_indexes_the_text_of_every_pdf(archive):
    """Text extracted by the worker processes, a few PDFs per job: each document gets its own
    text (none swapped, none lost), and a damaged PDF is filed without text."""
    from avflow_archive.index import ArchiveIndex

    words = [f"parola{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(N)]
    files = [
        {"data": archive.b64(archive.pdf(f"Fattura {w}")), "name": f"f{i}.pdf"}
        for i, w in enumerate(words)
    ]
    broken = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ngarbage\n%%EOF\n"
    files.append({"data": archive.b64(broken), "name": "broken.pdf"})
    result = archive.h.run(archive.email_workflow(files, path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert result.outputs["archive"]["counts"] == {"filed": N + 1}
    index = ArchiveIndex(archive.h.home / "plugins" / "archive" / "index.db")
    try:
        for i, w in enumerate(words):
            assert [d.name for d in index.search("acme", w)] == [f"f{i}.pdf"], w
        assert len(index.search("acme", "fattura", limit=100)) == N
        assert [d.name for d in index.search("acme", "broken")] == ["broken.pdf"]  # its name
    finally:
        index.close()


def test_each_file_is_fsynced_before_its_name_is_linked(archive, monkeypatch):
    """A batch's temporary files are written and fsynced by several threads at once; each
    document is still fsynced before its name appears, and every folder after its names."""
    import threading

    from avflow_archive.backends import local

    events: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd):
        real_fsync(fd)
        with lock:
            events.append(("fsync", os.fstat(fd).st_ino, threading.current_thread().name))

    def link(src, dst, **kwargs):
        with lock:
            events.append(("link", os.stat(src).st_ino, threading.current_thread().name))
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(local.os, "fsync", fsync)
    monkeypatch.setattr(local.os, "link", link)
    result = archive.h.run(archive.email_workflow(_files(archive), path="x/{{ file.name }}"))
    assert result.status == "succeeded", result.error
    synced = set()
    for kind, inode, _ in events:
        if kind == "fsync":
            synced.add(inode)
        else:
            assert inode in synced, "a name was linked to a file not yet fsynced"
    links = [i for kind, i, _ in events if kind == "link"]
    assert len(links) == N
    folder = os.stat(archive.root / "x").st_ino
    last_link = max(n for n, e in enumerate(events) if e[0] == "link")
    assert any(e[:2] == ("fsync", folder) for e in events[last_link:]), "folder not fsynced"
    threads = {t for kind, _, t in events if kind == "fsync" and t.startswith("archive-sync")}
    assert len(threads) > 1, "the batch's files were not written by several threads"


def test_one_index_row_failing_leaves_the_batchs_other_rows(archive, monkeypatch):
    """A batch's rows go in together; when one of them fails, each is recorded on its own:
    the failing document is filed and named in a note, the others are indexed."""
    from avflow_archive import index
    from avflow_archive.index import ArchiveIndex

    real = index._row

    def row(document):
        if document["name"] == "doc7.pdf":
            raise ValueError("a row that cannot be written")
        return real(document)

    monkeypatch.setattr(index, "_row", row)
    result = archive.h.run(archive.email_workflow(_files(archive), path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert len(archive.archived()) == N
    book = ArchiveIndex(archive.h.home / "plugins" / "archive" / "index.db")
    try:
        names = {d.name for d in book.documents("acme")}
    finally:
        book.close()
    assert names == {f"doc{i}.pdf" for i in range(N)} - {"doc7.pdf"}
    notes = [r for r in result.audit if r.get("event") == "step.note"]
    assert any("doc7.pdf but could not index it" in str(r) for r in notes), notes
