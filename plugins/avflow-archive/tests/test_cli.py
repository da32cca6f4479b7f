"""The command line: ``avflow archive search|list``, and ``avflow validate`` on archive settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def _avflow(env, *args):
    return subprocess.run(
        [AVFLOW, "--workflows", str(env.h.workflows), "--home", str(env.h.home), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _file_some(env):
    items = [
        {
            "data": env.b64(env.pdf("Contratto di locazione ufficio via Roma")),
            "name": "contratto.pdf",
            "sender": "Studio Legale <info@studio-legale.it>",
            "subject": "Contratto firmato",
            "date": "2026-02-01T10:00:00Z",
        },
        {
            "data": env.b64(env.pdf("Fattura Enel Energia numero 42")),
            "name": "fattura_42.pdf",
            "sender": "fatture@enel.it",
            "subject": "Fattura n. 42/2026",
            "date": "2026-02-03T10:00:00Z",
        },
        {
            "data": env.b64(b"appunti riunione"),
            "name": "note.txt",
            "sender": "capo@cliente-acme.it",
            "subject": "Verbale",
            "date": "2026-02-04T10:00:00Z",
        },
        {
            "data": env.b64(b"escaping"),
            "name": "evil.pdf",
            "sender": "x@y.z",
            "subject": "x",
            "date": "2026-02-04T10:00:00Z",
        },
    ]
    rules = [{"name": "evil", "match": {"name": "evil.pdf"}, "path": "../../{{ file.name }}"}]
    result = env.h.run(env.email_workflow(items, rules=rules, path="Docs/{{ file.name }}"))
    assert result.status == "succeeded", result.error
    # the stand-in action exists only in this test process: the avflow command must not see it
    (env.h.workflows / "acme" / "file.yaml").unlink()


def test_search_finds_pdf_text_names_and_senders(archive):
    _file_some(archive)
    out = _avflow(archive, "archive", "search", "acme", "locazione")
    assert out.returncode == 0, out.stderr
    assert "Docs/contratto.pdf" in out.stdout and "[locazione]" in out.stdout
    assert "fattura_42" not in out.stdout
    prefix = _avflow(archive, "archive", "search", "acme", "fattur*")
    assert "Docs/fattura_42.pdf" in prefix.stdout and "contratto" not in prefix.stdout
    by_sender = _avflow(archive, "archive", "search", "acme", "enel", "--json")
    docs = [json.loads(line) for line in by_sender.stdout.splitlines()]
    assert [d["path"] for d in docs] == ["Docs/fattura_42.pdf"]
    assert docs[0]["sender"] == "fatture@enel.it" and docs[0]["type"] == "application/pdf"


def test_search_tolerates_any_query_text(archive):
    _file_some(archive)
    for query in ['"unbalanced', "AND OR NOT", "x -- (", "*", "città"]:
        out = _avflow(archive, "archive", "search", "acme", query)
        assert out.returncode == 0, (query, out.stderr)
        assert "Traceback" not in out.stderr


def test_list_and_since(archive):
    _file_some(archive)
    out = _avflow(archive, "archive", "list", "acme")
    assert out.returncode == 0, out.stderr
    assert "4 document(s)" in out.stdout
    assert "quarantined: the path climbs out of the archive" in out.stdout
    later = _avflow(archive, "archive", "list", "acme", "--since", "2099-01-01")
    assert "0 document(s)" in later.stdout
    earlier = _avflow(
        archive, "archive", "list", "acme", "--since", "2020-01-01", "--quarantined", "--json"
    )
    [doc] = [json.loads(line) for line in earlier.stdout.splitlines()]
    assert doc["status"] == "quarantined" and doc["path"].startswith("_quarantine/")


def test_cli_errors_are_one_line_with_exit_code_2(archive):
    _file_some(archive)
    bad_date = _avflow(archive, "archive", "list", "acme", "--since", "last week")
    assert (
        bad_date.returncode == 2
        and "not a date" in bad_date.stderr
        and "Traceback" not in bad_date.stderr
    )
    unknown = _avflow(archive, "archive", "search", "nobody", "x")
    assert unknown.returncode == 2 and "unknown client 'nobody'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_nothing_filed_yet(archive):
    out = _avflow(archive, "archive", "list", "acme")
    assert out.returncode == 0 and "no documents filed for acme yet" in out.stdout


def test_validate_reports_archive_mistakes_with_file_and_line(archive):
    archive.h.client(
        "acme",
        "name: Acme\ntimezone: Europe/Rome\naccounts:\n"
        "  archive: { type: local }\n"
        "  drive: { type: google_drive, folder_id: abc }\n"
        "  nas: { type: sftp, host: nas, username: av, private_key: x, path: relative/path }\n"
        "  dav: { type: webdav, url: cloud.example }\n"
        "  old: { type: local, path: /srv, retention_years: -1 }\n",
    )
    archive.h.workflow(
        "acme",
        "bad",
        "name: x\nsteps:\n  - uses: archive.file\n    with:\n      acount: archive\n"
        '      files: "{{ run.event.files }}"\n'
        "  - uses: archive.scan\n    with:\n      account: nope\n      folder: /tmp\n"
        '      rules:\n        - name: bad\n          match: { name_regex: "(" }\n',
    )
    out = _avflow(archive, "validate")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert "Traceback" not in out.stderr
    expected = [
        "client.yaml:4:12: missing required key 'path'",
        "client.yaml:5:3: google_drive needs 'token' or 'refresh_token'",
        "client.yaml:6:",
        "sftp path must be absolute",
        "client.yaml:7:",
        "webdav url must start with https://",
        "client.yaml:8:",
        "retention_years",
        "bad.yaml:5:7: unknown key 'acount' (did you mean 'account'?)",
        "bad.yaml:13:20: rules.0.match.name_regex: invalid regular expression",
        "bad.yaml:9:7: client 'acme' has no account 'nope'",
    ]
    text = "\n".join(lines)
    for fragment in expected:
        assert fragment in text, fragment


def test_validate_refuses_an_unknown_attribute_of_file_date(archive):
    """`{{ file.date.yeer }}` (file.date is a datetime) is refused at its line and column with a
    suggestion, as `{{ file.mont }}` is; `{{ file.date.strftime(...) }}` passes."""
    archive.h.client(
        "acme",
        "name: Acme\ntimezone: Europe/Rome\naccounts:\n"
        f"  archive: {{ type: local, path: {archive.h.workflows / 'acme' / 'archivio'} }}\n",
    )
    archive.h.workflow(
        "acme",
        "dated",
        "steps:\n  - uses: archive.file\n    with:\n      account: archive\n"
        '      files: "{{ run.event.files }}"\n'
        "      path: \"{{ file.date.yeer }}/{{ file.date.strftime('%m') }}/{{ file.name }}\"\n",
    )
    out = _avflow(archive, "validate")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"{archive.h.workflows / 'acme' / 'dated.yaml'}:6:7: 'file.date' has no attribute 'yeer'"
        " (did you mean file.date.year?)"
    ]
