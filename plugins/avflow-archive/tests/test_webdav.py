"""A webdav archive against a real WebDAV server (wsgidav) started by the tests."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from avflow.testing import SimulatedCrash, check_action_contract

pytestmark = pytest.mark.server


@pytest.fixture
def cloud(archive, dav):
    """The client's archive account is a folder on the WebDAV server."""
    folder = uuid.uuid4().hex[:8]
    (dav.root / folder).mkdir()
    archive.h.secret("acme", "dav_pw", dav.password)
    archive.dav_account = {
        "type": "webdav",
        "url": dav.url,
        "username": dav.user,
        "password": "${secret:dav_pw}",
        "path": f"/{folder}/Archivio",
    }
    (dav.root / folder / "Archivio").mkdir()
    archive.h.client(
        "acme",
        {"name": "Acme", "timezone": "Europe/Rome", "accounts": {"archive": archive.dav_account}},
    )
    archive.dav_root = dav.root / folder / "Archivio"
    return archive


def _files(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _item(env, data, name):
    return {
        "data": env.b64(data),
        "name": name,
        "sender": "Studio Legale <info@studio-legale.it>",
        "subject": "Contratto",
        "date": "2026-06-10T08:00:00Z",
    }


def test_files_are_uploaded_numbered_and_deduplicated(cloud):
    (cloud.dav_root / "studio-legale.it").mkdir()
    (cloud.dav_root / "studio-legale.it" / "c.pdf").write_bytes(b"older contract")
    ref = cloud.email_workflow(
        [
            _item(cloud, cloud.pdf("Contratto di servizio"), "c.pdf"),
            _item(cloud, b"older contract", "c.pdf"),
            _item(cloud, b"annex", "annex.pdf"),
        ],
        path="{{ file.sender_domain }}/{{ file.name }}",
    )
    result = cloud.h.run(ref)
    assert result.status == "succeeded", result.error
    got = [(f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [
        ("filed", "studio-legale.it/c (2).pdf"),
        ("duplicate", "studio-legale.it/c.pdf"),
        ("filed", "studio-legale.it/annex.pdf"),
    ]
    files = _files(cloud.dav_root)
    assert files["studio-legale.it/c.pdf"] == b"older contract"
    assert files["studio-legale.it/annex.pdf"] == b"annex"
    assert len(files) == 3  # no temporary file left on the server


def test_crash_after_upload_resumes_without_a_second_copy(cloud):
    ref = cloud.email_workflow(
        [_item(cloud, bytes([i]) * 2000, f"{i}.pdf") for i in range(3)], path="{{ file.name }}"
    )
    cloud.h.crash_at(2, "after")
    with contextlib.suppress(SimulatedCrash):
        cloud.h.run(ref)
    [resumed] = cloud.h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert _files(cloud.dav_root) == {f"{i}.pdf": bytes([i]) * 2000 for i in range(3)}


def test_contract_and_hostile_paths_stay_inside(cloud, dav):
    ref = cloud.email_workflow(
        [_item(cloud, b"one", "..\\..\\one.pdf"), _item(cloud, b"two", "two.pdf")],
        rules=[{"name": "escape", "match": {"name": "two.pdf"}, "path": "/{{ file.name }}"}],
        path="{{ file.name }}",
    )
    before = _files(dav.root)
    check_action_contract(cloud.h, ref, remote_state=lambda: _files(cloud.dav_root))
    after = _files(dav.root)
    new = {k for k in after if k not in before}
    prefix = str(cloud.dav_root.relative_to(dav.root)) + "/"
    assert new and all(k.startswith(prefix) for k in new)
    files = _files(cloud.dav_root)
    assert files.pop("_.._one.pdf") == b"one"
    [(qpath, data)] = files.items()
    assert qpath.startswith("_quarantine/") and data == b"two"


def test_wrong_password_is_a_clear_error(cloud, dav):
    cloud.h.secret("acme", "dav_pw", "not the password")
    result = cloud.h.run(cloud.email_workflow([_item(cloud, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "refused the credentials (401)" in result.error
    assert "not the password" not in result.error
    assert _files(cloud.dav_root) == {}


def test_names_that_need_url_encoding(cloud):
    names = ["a #1 50%.pdf", "perché è così.pdf", "q&a+b=c;d.pdf", "[draft] {v2}.pdf"]
    ref = cloud.email_workflow(
        [_item(cloud, n.encode(), n) for n in names], path="Più cose/{{ file.name }}"
    )
    result = cloud.h.run(ref)
    assert result.status == "succeeded", result.error
    # ";", "#", "%" and "?" are avoided on WebDAV (docs/archive.md)
    stored = {n.translate(str.maketrans({c: "_" for c in ";#%?"})): n for n in names}
    assert _files(cloud.dav_root) == {f"Più cose/{s}": n.encode() for s, n in stored.items()}
    assert [f["path"] for f in result.outputs["archive"]["files"]] == [
        f"Più cose/{s}" for s in stored
    ]
    again = cloud.h.run(ref)  # found again by name: duplicates, nothing new
    assert [f["status"] for f in again.outputs["archive"]["files"]] == ["duplicate"] * 4


def test_a_server_that_is_not_there_is_a_clear_error(cloud):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cloud.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "UTC",
            "accounts": {"archive": {**cloud.dav_account, "url": f"http://127.0.0.1:{port}/dav"}},
        },
    )
    result = cloud.h.run(cloud.email_workflow([_item(cloud, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "cannot list the archive folder" in result.error and "\n" not in result.error
