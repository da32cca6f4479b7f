"""A google_drive archive: the real google-api-python-client against a local Drive stand-in."""

from __future__ import annotations

import contextlib
import time

import pytest
from archive_gdrive import FOLDER, Failure

from avflow.testing import SimulatedCrash, check_action_contract

pytestmark = pytest.mark.server


@pytest.fixture
def gd(archive, fake_drive):
    """The client's archive account is the stand-in's "Archivio" folder."""
    archive.h.secret("acme", "gd_token", "good-token")
    archive.h.secret("acme", "gd_refresh", "good-refresh")
    archive.h.secret("acme", "gd_secret", "client-secret")
    archive.drive = fake_drive
    archive.gd_account = {
        "type": "google_drive",
        "folder_id": fake_drive.root_id,
        "token": "${secret:gd_token}",
        "refresh_token": "${secret:gd_refresh}",
        "client_id": "client-id",
        "client_secret": "${secret:gd_secret}",
        "token_uri": fake_drive.token_uri,
        "api_endpoint": fake_drive.endpoint,
        "ca_certs": str(fake_drive.cert),
        "timeout": 2,
        "retries": 3,
    }
    archive.h.client(
        "acme",
        {"name": "Acme", "timezone": "Europe/Rome", "accounts": {"archive": archive.gd_account}},
    )
    return archive


def _account(env, **changes):
    env.h.client(
        "acme",
        {"name": "Acme", "timezone": "UTC", "accounts": {"archive": {**env.gd_account, **changes}}},
    )


def _item(env, data, name, sender="Amministrazione Enel <fatture@enel.it>"):
    return {
        "data": env.b64(data),
        "name": name,
        "sender": sender,
        "subject": "Fattura",
        "date": "2026-03-02T10:00:00Z",
    }


TEMPLATE = "Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}"


def test_uploads_create_folders_and_send_checked_multipart_requests(gd):
    pdf = gd.pdf("Fattura Enel 42")
    result = gd.h.run(
        gd.email_workflow([_item(gd, pdf, "f42.pdf"), _item(gd, b"note", "n.txt")], path=TEMPLATE)
    )
    assert result.status == "succeeded", result.error
    assert gd.drive.problems == []
    assert gd.drive.tree() == {
        "Fatture/2026/enel.it/f42.pdf": pdf,
        "Fatture/2026/enel.it/n.txt": b"note",
    }
    uploads = [e for e in gd.drive.log if e.kind == "upload"]
    assert len(uploads) == 2
    assert uploads[0].media_type == "application/pdf" and uploads[1].media_type == "text/plain"
    meta = uploads[0].metadata
    assert meta["name"] == "f42.pdf"
    assert meta["appProperties"]["avflow_sha256"] == result.outputs["archive"]["files"][0]["sha256"]
    folders = [e.metadata["name"] for e in gd.drive.log if e.kind == "create"]
    assert folders == ["Fatture", "2026", "enel.it"]  # each folder made once, then found


def test_numbered_names_and_duplicates_by_checksum(gd):
    folder = gd.drive.add_folder("Docs", gd.drive.root_id)
    gd.drive.add_file("a.pdf", folder, b"the client's own a.pdf")
    gd.drive.add_file("old.pdf", folder, b"uploaded years ago", checksums=False)
    ref = gd.email_workflow(
        [
            _item(gd, b"new a", "a.pdf"),
            _item(gd, b"uploaded years ago", "old.pdf"),
            _item(gd, b"the client's own a.pdf", "again.pdf"),
        ],
        rules=[{"name": "again", "match": {"name": "again.pdf"}, "path": "Docs/a.pdf"}],
        path="Docs/{{ file.name }}",
    )
    result = gd.h.run(ref)
    assert result.status == "succeeded", result.error
    got = [(f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [
        ("filed", "Docs/a (2).pdf"),
        ("duplicate", "Docs/old.pdf"),
        ("duplicate", "Docs/a.pdf"),
    ]
    assert "media" in gd.drive.kinds()  # the old file had no checksum: it was downloaded and hashed
    assert len(gd.drive.tree()) == 3


def test_expired_token_is_refreshed(gd):
    gd.h.secret("acme", "gd_token", "expired-token")
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")], path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    kinds = gd.drive.kinds()
    assert kinds[:3] == ["list", "token", "list"]  # 401, refresh, the same request again
    assert gd.drive.log[0].status == 401
    assert gd.drive.tree() == {"x.pdf": b"x"}


def test_revoked_credentials_are_a_clear_error(gd):
    gd.h.secret("acme", "gd_token", "expired-token")
    gd.h.secret("acme", "gd_refresh", "revoked")
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "cannot be refreshed" in result.error and "\n" not in result.error
    assert "revoked" not in result.error.replace("expired or revoked", "")
    assert gd.drive.tree() == {}


def test_429_with_retry_after_is_honoured(gd):
    gd.drive.failures.append(Failure("upload", 429, {"Retry-After": "1"}))
    t0 = time.monotonic()
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")], path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert time.monotonic() - t0 >= 1.0
    uploads = [e.status for e in gd.drive.log if e.kind == "upload"]
    assert uploads == [429, 200]
    assert gd.drive.tree() == {"x.pdf": b"x"}


def test_server_errors_are_retried(gd):
    gd.drive.failures += [Failure("list", 500), Failure("list", 503)]
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")], path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert [e.status for e in gd.drive.log][:3] == [500, 503, 200]


def test_persistent_errors_fail_with_one_line(gd):
    _account(gd, retries=1)
    gd.drive.failures += [Failure("list", 500)] * 2
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "HTTP 500" in result.error and "\n" not in result.error


def test_a_timed_out_upload_that_landed_is_not_uploaded_again(gd):
    gd.drive.failures.append(Failure("upload", delay=4.0, perform=True))
    result = gd.h.run(gd.email_workflow([_item(gd, b"slow", "slow.pdf")], path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert gd.drive.tree() == {"slow.pdf": b"slow"}
    assert [e.kind for e in gd.drive.log].count("upload") == 1
    after = gd.drive.log[[e.kind for e in gd.drive.log].index("upload") + 1]
    assert (
        after.kind == "list" and "avflow_token" in after.query["q"]
    )  # looked for it before retrying


def test_timeouts_without_answer_fail_cleanly(gd):
    _account(gd, retries=1)
    gd.drive.failures += [Failure("list", delay=3.0)] * 2
    result = gd.h.run(gd.email_workflow([_item(gd, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "no answer" in result.error


def test_crash_after_upload_resumes_without_a_second_copy(gd):
    ref = gd.email_workflow(
        [_item(gd, bytes([i]) * 500, f"{i}.pdf") for i in range(3)], path="{{ file.name }}"
    )
    gd.h.crash_at(2, "after")
    with contextlib.suppress(SimulatedCrash):
        gd.h.run(ref)
    [resumed] = gd.h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert gd.drive.tree() == {f"{i}.pdf": bytes([i]) * 500 for i in range(3)}


def test_contract_dry_run_uploads_nothing(gd):
    ref = gd.email_workflow(
        [_item(gd, b"1", "1.pdf"), _item(gd, b"2", "2.pdf")], path="A/{{ file.name }}"
    )
    check_action_contract(gd.h, ref, remote_state=gd.drive.tree)
    assert gd.drive.tree() == {"A/1.pdf": b"1", "A/2.pdf": b"2"}
    assert not [f for f in gd.drive.files.values() if f["mimeType"] == FOLDER and f["name"] == "A"][
        1:
    ]


def test_quotes_in_names_are_escaped_in_queries_and_retention_is_read_only(gd):
    _account(gd, retention_years=10)
    ref = gd.email_workflow(
        [_item(gd, b"offer", "l'offerta \\ finale.pdf")], path="Offerte d'oro/{{ file.name }}"
    )
    result = gd.h.run(ref)
    assert result.status == "succeeded", result.error
    assert gd.drive.problems == []
    assert gd.drive.tree() == {"Offerte d'oro/l'offerta _ finale.pdf": b"offer"}
    [upload] = [e for e in gd.drive.log if e.kind == "upload"]
    assert upload.metadata["contentRestrictions"][0]["readOnly"] is True
    queries = [e.query["q"] for e in gd.drive.log if e.kind == "list"]
    assert any("name = 'Offerte d\\'oro'" in q for q in queries)


def test_an_errors_reason_is_read_through_the_public_attribute(monkeypatch):
    """`HttpError.reason` (public, set when the error is made), never the private
    ``_get_reason``: the test fails if the plugin calls the private method again."""
    import json

    import httplib2
    from avflow_archive.backends import gdrive
    from googleapiclient.errors import HttpError

    body = {"error": {"code": 403, "message": "User Rate Limit Exceeded"}}
    exc = HttpError(httplib2.Response({"status": 403}), json.dumps(body).encode())

    def private(self):
        raise AssertionError("HttpError._get_reason is private")

    monkeypatch.setattr(HttpError, "_get_reason", private)
    assert gdrive._reason(exc) == "User Rate Limit Exceeded"
    assert gdrive._rate_limited(exc)
