"""An sftp archive against a real OpenSSH server started by the tests."""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest

from avflow.testing import SimulatedCrash, check_action_contract

pytestmark = pytest.mark.server


@pytest.fixture
def nas(archive, sshd):
    """The client's archive account is an sftp folder on the private sshd."""
    root = sshd.root / uuid.uuid4().hex[:8]
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
    archive.h.client(
        "acme", {"name": "Acme", "timezone": "Europe/Rome", "accounts": {"archive": account}}
    )
    archive.nas_root = root
    return archive


def _files(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _item(env, data, name):
    return {
        "data": env.b64(data),
        "name": name,
        "sender": "fatture@enel.it",
        "subject": "Fattura",
        "date": "2026-04-01T10:00:00Z",
    }


def test_files_are_uploaded_numbered_and_deduplicated(nas):
    (nas.nas_root / "Fatture" / "2026").mkdir(parents=True)
    (nas.nas_root / "Fatture" / "2026" / "a.pdf").write_bytes(b"put there by the client")
    ref = nas.email_workflow(
        [
            _item(nas, b"first a", "a.pdf"),
            _item(nas, b"second", "b.pdf"),
            _item(nas, b"second", "b-copy.pdf"),
        ],
        path="Fatture/{{ file.year }}/{{ file.name }}",
    )
    result = nas.h.run(ref)
    assert result.status == "succeeded", result.error
    got = [(f["status"], f["path"]) for f in result.outputs["archive"]["files"]]
    assert got == [
        ("filed", "Fatture/2026/a (2).pdf"),
        ("filed", "Fatture/2026/b.pdf"),
        ("duplicate", "Fatture/2026/b.pdf"),
    ]
    assert _files(nas.nas_root) == {
        "Fatture/2026/a.pdf": b"put there by the client",
        "Fatture/2026/a (2).pdf": b"first a",
        "Fatture/2026/b.pdf": b"second",
    }


def test_retention_makes_uploads_read_only(nas):
    nas.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "UTC",
            "accounts": {
                "archive": {
                    **nas.h.app.project.clients["acme"].profile.accounts["archive"],
                    "retention_years": 10,
                }
            },
        },
    )
    result = nas.h.run(nas.email_workflow([_item(nas, b"keep", "k.pdf")], path="{{ file.name }}"))
    assert result.status == "succeeded", result.error
    assert os.stat(nas.nas_root / "k.pdf").st_mode & 0o222 == 0


def test_crash_after_upload_resumes_without_a_second_copy(nas):
    ref = nas.email_workflow(
        [_item(nas, bytes([i]) * 3000, f"{i}.pdf") for i in range(3)], path="{{ file.name }}"
    )
    nas.h.crash_at(2, "after")
    with contextlib.suppress(SimulatedCrash):
        nas.h.run(ref)
    [resumed] = nas.h.resume()
    assert resumed.status == "succeeded", resumed.error
    assert _files(nas.nas_root) == {f"{i}.pdf": bytes([i]) * 3000 for i in range(3)}


def test_contract_and_hostile_paths_stay_inside(nas):
    ref = nas.email_workflow(
        [_item(nas, b"one", "../../../one.pdf"), _item(nas, b"two", "two.pdf")],
        rules=[{"name": "escape", "match": {"name": "two.pdf"}, "path": "../../{{ file.name }}"}],
        path="{{ file.name }}",
    )
    before = set(os.listdir(nas.nas_root.parent))
    check_action_contract(nas.h, ref, remote_state=lambda: _files(nas.nas_root))
    assert set(os.listdir(nas.nas_root.parent)) == before
    files = _files(nas.nas_root)
    assert files.pop("_.._.._one.pdf") == b"one"
    [(qpath, data)] = files.items()
    assert qpath.startswith("_quarantine/") and data == b"two"


def test_wrong_host_key_is_refused(nas, sshd):
    accounts = nas.h.app.project.clients["acme"].profile.accounts
    nas.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "UTC",
            "accounts": {
                "archive": {
                    **accounts["archive"],
                    "host_key": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                }
            },
        },
    )
    result = nas.h.run(nas.email_workflow([_item(nas, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "host key" in result.error and "\n" not in result.error
    assert _files(nas.nas_root) == {}


def test_unauthorized_key_is_a_clear_error(nas, sshd):
    nas.h.secret("acme", "nas_key", sshd.other_key)
    result = nas.h.run(nas.email_workflow([_item(nas, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert "refused" in result.error
    assert sshd.other_key.splitlines()[1] not in result.error


def test_missing_remote_folder_is_a_clear_error(nas):
    accounts = nas.h.app.project.clients["acme"].profile.accounts
    nas.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "UTC",
            "accounts": {"archive": {**accounts["archive"], "path": str(nas.nas_root / "missing")}},
        },
    )
    result = nas.h.run(nas.email_workflow([_item(nas, b"x", "x.pdf")]))
    assert result.status == "failed" and result.error.endswith("does not exist")


def test_unicode_and_odd_names(nas):
    names = ["a #1 50%.pdf", "perché è così.pdf", "q&a+b=c;d.pdf", "[draft] {v2}.pdf"]
    ref = nas.email_workflow(
        [_item(nas, n.encode(), n) for n in names], path="Più cose/{{ file.name }}"
    )
    result = nas.h.run(ref)
    assert result.status == "succeeded", result.error
    assert _files(nas.nas_root) == {f"Più cose/{n}": n.encode() for n in names}


def test_a_server_that_is_not_there_is_a_clear_error(nas):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    accounts = nas.h.app.project.clients["acme"].profile.accounts
    nas.h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "UTC",
            "accounts": {"archive": {**accounts["archive"], "port": port}},
        },
    )
    result = nas.h.run(nas.email_workflow([_item(nas, b"x", "x.pdf")]))
    assert result.status == "failed"
    assert result.error.startswith(f"step archive: sftp [127.0.0.1]:{port}: cannot connect")
    assert "\n" not in result.error


def test_the_pinned_paramiko_still_sends_fsync_the_way_the_plugin_does(sshd, tmp_path):
    """paramiko has no public call for an SFTP extension request, so `_sftp_fsync` uses
    ``SFTPClient._request``; pyproject.toml keeps paramiko below 6, and this test fails the day
    that call moves or stops working against a real OpenSSH server."""
    import io
    from importlib.metadata import version

    import paramiko
    from paramiko.sftp import CMD_EXTENDED, CMD_STATUS

    assert int(version("paramiko").split(".")[0]) < 6  # the pin in pyproject.toml
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(sshd.client_key))
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    ssh.connect("127.0.0.1", sshd.port, sshd.user, pkey=key, allow_agent=False, look_for_keys=False)
    try:
        ftp = ssh.open_sftp()
        target = sshd.root / f"fsync-{uuid.uuid4().hex[:8]}.txt"
        with ftp.open(str(target), "wb") as remote:
            remote.write(b"kept")
            remote.flush()
            kind, _ = ftp._request(CMD_EXTENDED, "fsync@openssh.com", remote.handle)
            assert kind == CMD_STATUS  # the server's OK (an error would raise)
        assert target.read_bytes() == b"kept"
    finally:
        ssh.close()
