"""A path template that fails at run time fails the step before any effect: nothing is filed,
quarantined or removed from the drop folder (issue 10; docs/archive.md, "Quarantine")."""

from __future__ import annotations

import os
import time


def _drop(env, name: str, data: bytes) -> None:
    path = env.drop / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - 60
    os.utime(path, (old, old))


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_failing_path_template_moves_and_removes_nothing(archive):
    for name in ("a.pdf", "b.txt", "c.pdf"):
        _drop(archive, name, f"content of {name}".encode())
    ref = archive.scan_workflow(path="Scansioni/{{ file.size // 0 }}/{{ file.name }}")
    result = archive.h.run(ref)
    assert result.status == "failed"
    assert "the path template failed for a.pdf: integer division or modulo by zero" in (
        result.error or ""
    )
    assert result.effects == []  # not one effect: nothing filed, quarantined or removed
    assert _files(archive.drop) == ["a.pdf", "b.txt", "c.pdf"]
    assert archive.archived() == {}
    dry = archive.h.run(ref, dry_run=True)  # a dry run shows the mistake too
    assert dry.status == "failed" and "path template failed" in (dry.error or "")


def test_a_rules_failing_template_is_named(archive):
    _drop(archive, "x.pdf", b"x")
    rules = [{"name": "odd", "match": {"name": "x.pdf"}, "path": "{{ file.name | int(1, 2, 3) }}"}]
    result = archive.h.run(archive.scan_workflow(rules=rules))
    assert result.status == "failed"
    assert "the path template of rule 'odd' failed for x.pdf" in (result.error or "")
    assert result.effects == [] and _files(archive.drop) == ["x.pdf"]


def test_files_of_an_earlier_step_are_not_filed_and_the_spool_is_kept(archive):
    files = [
        {"data": archive.b64(b"one"), "name": "one.pdf"},
        {"data": archive.b64(b"two"), "name": "two.pdf"},
    ]
    ref = archive.email_workflow(files, path="{{ (file.size / 0) }}/{{ file.name }}")
    result = archive.h.run(ref)
    assert result.status == "failed" and "path template failed for one.pdf" in (result.error or "")
    assert [e.kind for e in result.effects] == []
    assert archive.archived() == {}
    assert (archive.h.home / "spool" / result.id).is_dir()  # kept for the run to be retried
