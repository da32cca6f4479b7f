"""archive.file with files from an earlier step, into a local archive."""

from __future__ import annotations

import contextlib
import os
import stat

from avflow.testing import check_action_contract

INVOICE_DATE = "2026-03-14T09:30:00+00:00"


def _item(env, data: bytes, name: str, **extra):
    return {
        "data": env.b64(data),
        "name": name,
        "sender": "Amministrazione Enel <fatture@enel.it>",
        "subject": "Fattura n. 123/2026",
        "date": INVOICE_DATE,
        **extra,
    }


def test_files_land_under_the_template_path(archive):
    pdf = archive.pdf("Fattura 123 Enel Energia totale 99,00 EUR")
    ref = archive.email_workflow(
        [_item(archive, pdf, "fattura_123.pdf")],
        path="Fatture/{{ file.date.year }}/{{ file.sender_domain }}/{{ file.name }}",
    )
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error
    out = result.outputs["archive"]
    assert out["counts"] == {"filed": 1}
    assert out["files"][0]["path"] == "Fatture/2026/enel.it/fattura_123.pdf"
    assert out["files"][0]["type"] == "application/pdf"
    assert archive.archived() == {"Fatture/2026/enel.it/fattura_123.pdf": pdf}
    kinds = [e.kind for e in result.effects if e.status == "done"]
    assert kinds == ["archive.file"]


def test_date_is_read_in_the_clients_timezone(archive):
    # 23:30 UTC on 31 December is already 1 January in Rome
    ref = archive.email_workflow(
        [_item(archive, b"hello", "a.txt", date="2025-12-31T23:30:00+00:00")],
        path="{{ file.year }}/{{ file.month }}/{{ file.name }}",
    )
    result = archive.h.run(ref)
    assert result.outputs["archive"]["files"][0]["path"] == "2026/01/a.txt"


def test_a_different_file_with_the_same_name_gets_a_number(archive):
    ref = archive.email_workflow(
        [
            _item(archive, b"first", "doc.pdf"),
            _item(archive, b"second", "doc.pdf"),
            _item(archive, b"third", "doc.pdf"),
        ],
        path="{{ file.name }}",
    )
    result = archive.h.run(ref)
    paths = [f["path"] for f in result.outputs["archive"]["files"]]
    assert paths == ["doc.pdf", "doc (2).pdf", "doc (3).pdf"]
    assert archive.archived() == {
        "doc.pdf": b"first",
        "doc (2).pdf": b"second",
        "doc (3).pdf": b"third",
    }


def test_identical_content_is_filed_once_and_recorded_as_duplicate(archive):
    ref = archive.email_workflow(
        [_item(archive, b"same bytes", "a.pdf"), _item(archive, b"same bytes", "copy-of-a.pdf")],
        path="{{ file.name }}",
    )
    result = archive.h.run(ref)
    files = result.outputs["archive"]["files"]
    assert [f["status"] for f in files] == ["filed", "duplicate"]
    assert files[1]["path"] == "a.pdf"
    assert archive.archived() == {"a.pdf": b"same bytes"}
    # a later run with the same content: still one copy
    again = archive.h.run(ref)
    assert [f["status"] for f in again.outputs["archive"]["files"]] == ["duplicate", "duplicate"]
    assert archive.archived() == {"a.pdf": b"same bytes"}


def test_existing_file_is_never_overwritten(archive):
    (archive.root / "doc.pdf").write_bytes(b"put there by the client")
    ref = archive.email_workflow([_item(archive, b"new", "doc.pdf")], path="{{ file.name }}")
    archive.h.run(ref)
    assert archive.archived() == {"doc.pdf": b"put there by the client", "doc (2).pdf": b"new"}


def test_same_content_already_at_destination_is_a_duplicate(archive):
    (archive.root / "doc.pdf").write_bytes(b"same")
    ref = archive.email_workflow([_item(archive, b"same", "doc.pdf")], path="{{ file.name }}")
    result = archive.h.run(ref)
    assert result.outputs["archive"]["files"][0]["status"] == "duplicate"
    assert archive.archived() == {"doc.pdf": b"same"}


def test_rules_match_on_real_type_sender_subject_and_pdf_text(archive):
    files = [
        _item(
            archive, archive.pdf("Contratto di fornitura"), "scan.bin"
        ),  # a PDF with a wrong name
        _item(archive, archive.pdf("Fattura 77"), "f.pdf", sender="Tim <fatture@tim.it>"),
        _item(
            archive, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "photo.pdf"
        ),  # a PNG claiming to be a PDF
        _item(archive, b"just notes", "notes.txt", subject="Newsletter"),
    ]
    rules = [
        {"name": "newsletters", "match": {"subject": "newsletter"}, "skip": True},
        {
            "name": "contracts",
            "match": {"type": "application/pdf", "text": "contratto"},
            "path": "Contratti/{{ file.stem }}.{{ file.type_ext }}",
        },
        {
            "name": "tim",
            "match": {"sender": "*@tim.it", "name": "*.pdf"},
            "path": "Fatture/TIM/{{ file.name }}",
        },
        {
            "name": "images",
            "match": {"type": "image/*"},
            "path": "Immagini/{{ file.stem }}.{{ file.type_ext }}",
        },
    ]
    ref = archive.email_workflow(files, rules=rules, path=None)
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error
    got = [(f["rule"], f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [
        ("contracts", "filed", "Contratti/scan.pdf"),
        ("tim", "filed", "Fatture/TIM/f.pdf"),
        ("images", "filed", "Immagini/photo.png"),
        ("newsletters", "skipped", None),
    ]


def test_no_rule_and_no_default_path_leaves_the_file_unmatched(archive):
    ref = archive.email_workflow(
        [_item(archive, b"x", "x.txt")],
        path=None,
        rules=[{"name": "only pdf", "match": {"type": "application/pdf"}}],
    )
    result = archive.h.run(ref)
    assert result.outputs["archive"]["files"][0]["status"] == "unmatched"
    assert archive.archived() == {}


def test_dry_run_performs_nothing_and_lists_what_it_would_do(archive):
    ref = archive.email_workflow(
        [_item(archive, b"a", "a.pdf"), _item(archive, b"b", "../../b.pdf")], path="{{ file.name }}"
    )
    before = sorted(os.walk(archive.area))
    index = archive.h.home / "plugins" / "archive" / "index.db"
    result = archive.h.run(ref, dry_run=True)
    assert result.status == "succeeded", result.error
    assert sorted(os.walk(archive.area)) == before
    statuses = [f["status"] for f in result.outputs["archive"]["files"]]
    assert statuses == ["would_file", "would_file"]
    assert [e.status for e in result.effects] == ["dry-run", "dry-run"]
    assert not result.performed()
    from avflow_archive.index import ArchiveIndex

    assert not index.exists() or ArchiveIndex(index).documents("acme") == []


def test_action_contract(archive):
    ref = archive.email_workflow(
        [
            _item(archive, b"one", "1.pdf"),
            _item(archive, b"two", "2.pdf"),
            _item(archive, b"three", "3.pdf"),
        ],
        path="{{ file.name }}",
    )
    check_action_contract(archive.h, ref, remote_state=archive.archived, effects=2)
    assert archive.archived() == {"1.pdf": b"one", "2.pdf": b"two", "3.pdf": b"three"}


def test_crash_after_a_write_resumes_without_a_second_copy(archive):
    ref = archive.email_workflow(
        [_item(archive, bytes([i]) * 100, f"{i}.pdf") for i in range(5)], path="{{ file.name }}"
    )
    from avflow.testing import SimulatedCrash

    archive.h.crash_at(3, "after")  # the third file is written; its outcome is not recorded
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    assert len(archive.archived()) == 3
    [resumed] = archive.h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert sorted(archive.archived()) == [f"{i}.pdf" for i in range(5)]
    files = resumed.outputs["archive"]["files"]
    assert [f["status"] for f in files] == ["filed"] * 5
    reconciled = [r for r in resumed.audit if r.get("event") == "effect.reconciled"]
    assert len(reconciled) == 1


def test_crash_before_a_write_leaves_no_partial_file(archive):
    ref = archive.email_workflow([_item(archive, b"z" * 5000, "big.pdf")], path="{{ file.name }}")
    from avflow.testing import SimulatedCrash

    archive.h.crash_at(1, "before")
    with contextlib.suppress(SimulatedCrash):
        archive.h.run(ref)
    assert archive.archived() == {}
    [resumed] = archive.h.resume()
    assert resumed.status == "succeeded"
    assert archive.archived() == {"big.pdf": b"z" * 5000}


def test_retention_makes_filed_documents_read_only_and_records_until_when(archive):
    archive.client(retention_years=10)
    ref = archive.email_workflow([_item(archive, b"keep me", "k.pdf")], path="{{ file.name }}")
    archive.h.clock.set("2026-05-02T10:00:00+00:00")
    result = archive.h.run(ref)
    assert result.status == "succeeded", result.error
    mode = stat.S_IMODE((archive.root / "k.pdf").stat().st_mode)
    assert mode & 0o222 == 0
    from avflow_archive.index import ArchiveIndex

    [doc] = ArchiveIndex(archive.h.home / "plugins" / "archive" / "index.db").documents("acme")
    assert doc.retain_until == "2036-05-02"


def test_a_file_outside_the_spool_is_refused(archive, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    archive.h.workflow(
        "acme",
        "steal",
        {
            "steps": [
                {
                    "uses": "archive.file",
                    "with": {
                        "account": "archive",
                        "files": [{"path": str(secret), "name": "x.txt"}],
                    },
                }
            ]
        },
    )
    result = archive.h.run("acme/steal")
    assert result.status == "failed"
    assert "not in this run's spool" in result.error
    assert archive.archived() == {}


def test_missing_archive_folder_is_a_clear_error(archive):
    archive.client(path=str(archive.area / "nope"))
    ref = archive.email_workflow([_item(archive, b"x", "x.pdf")])
    result = archive.h.run(ref)
    assert result.status == "failed"
    assert result.error.endswith("does not exist")
    assert "\n" not in result.error


def test_a_document_removed_from_the_archive_by_hand_is_filed_again(archive):
    ref = archive.email_workflow([_item(archive, b"contract v1", "c.pdf")], path="{{ file.name }}")
    archive.h.run(ref)
    (archive.root / "c.pdf").unlink()  # the client tidied up by hand
    (archive.root / "c.pdf").write_bytes(b"something else now")
    again = archive.h.run(ref)
    [entry] = again.outputs["archive"]["files"]
    assert (entry["status"], entry["path"]) == ("filed", "c (2).pdf")
    assert archive.archived() == {"c.pdf": b"something else now", "c (2).pdf": b"contract v1"}
    from avflow_archive.index import ArchiveIndex

    docs = ArchiveIndex(archive.h.home / "plugins" / "archive" / "index.db").documents("acme")
    assert sorted(d.path for d in docs) == ["c (2).pdf", "c.pdf"]
