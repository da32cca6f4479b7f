"""One client can never reach another client's data, nor avflow's own (issue 11: paths, ids).

Every attack ends in a one-line error (exit 2, naming file:line:column where there is one) or a
refused step, and the filesystem outside the client's allowed roots is walked before and after:
nothing read into the archive, moved or deleted. These use the installed archive and email
plugins, as a user's `avflow` does.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from clikit import Cli, folders, in_process

LOCATED = re.compile(r"^.+\.yaml:\d+:\d+: .+$")


def avflow(root: Path, *args: str, stdin: str | None = None) -> Cli:
    """``avflow --workflows root/workflows --home root/home ARGS``, in this process."""
    return in_process(*folders(root), *args, stdin=stdin)


def snapshot(*tops: Path) -> dict[str, str]:
    """Every entry under ``tops``: a file's SHA-256, a link's target, or 'dir'."""
    seen: dict[str, str] = {}
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames:
                p = Path(dirpath, name)
                seen[str(p)] = f"link:{os.readlink(p)}" if p.is_symlink() else "dir"
            for name in filenames:
                p = Path(dirpath, name)
                if p.is_symlink():
                    seen[str(p)] = f"link:{os.readlink(p)}"
                else:
                    seen[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return seen


def files(root: Path) -> dict[str, str]:
    """`snapshot` of everything but the state database (SQLite checkpoints it at will)."""
    return {k: v for k, v in snapshot(root).items() if "state.db" not in k}


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """Clients A and B on a home folder where B already has secrets and an audit trail."""
    for client in ("A", "B"):
        d = tmp_path / "workflows" / client
        (d / "data" / "Archivio").mkdir(parents=True)
        (d / "client.yaml").write_text(
            f"name: Client {client}\n"
            "accounts:\n"
            "  archivio: { type: local, path: data/Archivio }\n"
            "  mail: { type: maildir, path: data/Maildir }\n"
        )
    (tmp_path / "workflows" / "B" / "data" / "Maildir" / "cur").mkdir(parents=True)
    (tmp_path / "workflows" / "B" / "data" / "Maildir" / "cur" / "1.eml").write_bytes(b"B's mail")
    (tmp_path / "workflows" / "B" / "noop.yaml").write_text(
        "steps:\n  - uses: archive.scan\n    with: { account: archivio, folder: data/in }\n"
    )
    (tmp_path / "workflows" / "B" / "data" / "in").mkdir()
    assert avflow(tmp_path, "secrets", "set", "B", "pw", stdin="B-password\n").code == 0
    assert avflow(tmp_path, "trigger", "B/noop").code == 0  # B now has an audit trail
    assert (tmp_path / "home" / "audit" / "B").is_dir()
    assert (tmp_path / "home" / "keys" / "vault.key").is_file()
    return tmp_path


def scan_workflow(root: Path, folder: str) -> Path:
    path = root / "workflows" / "A" / "steal.yaml"
    path.write_text(
        "name: Steal\n"
        "steps:\n"
        "  - id: file\n"
        "    uses: archive.scan\n"
        "    with:\n"
        "      account: archivio\n"
        f"      folder: {folder}\n"
        "      settle: 0\n"
    )
    return path


def guarded(root: Path) -> dict[str, str]:
    """What A may never touch: B's folder, the home's audit/B, keys, vault; A's own archive."""
    home = root / "home"
    return snapshot(
        root / "workflows" / "B",
        home / "audit" / "B",
        home / "keys",
        home / "vault",
        root / "workflows" / "A" / "data" / "Archivio",
    )


def refused_by_validate_and_trigger(root: Path, where: str, why: str) -> None:
    before = guarded(root)
    v = avflow(root, "validate")
    assert v.code == 2, v
    lines = v.err.strip().splitlines()
    assert any(LOCATED.match(line) and where in line and why in line for line in lines), lines
    t = avflow(root, "trigger", "A/steal")
    assert t.code == 2 and "Traceback" not in t.err, t
    assert guarded(root) == before
    verify = avflow(root, "audit", "verify", "B")
    assert verify.code == 0 and "0 records" not in verify.out + verify.err, verify


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("{home}/audit/B", "the avflow home folder"),
        ("{home}/keys", "the avflow home folder"),
        ("{home}", "the avflow home folder"),
        ("../B", "client B's folder"),
        ("../B/data/in", "client B's folder"),
        ("..", "client B's folder"),  # the workflows folder holds B
        ("/", "the avflow home folder"),
        (".", "outside client A's folder"),  # A's own client.yaml and workflows
    ],
)
def test_scan_folder_outside_the_client_is_refused(world: Path, folder: str, why: str) -> None:
    folder = folder.format(home=world / "home")
    scan_workflow(world, folder)
    refused_by_validate_and_trigger(world, "steal.yaml:7:7", why)


def test_scan_folder_through_a_symlink_to_another_client_is_refused(world: Path) -> None:
    os.symlink(world / "workflows" / "B", world / "workflows" / "A" / "data" / "scans")
    scan_workflow(world, "data/scans")
    refused_by_validate_and_trigger(world, "steal.yaml:7:7", "leads into client B's folder")


def test_scan_folder_through_a_symlink_that_leaves_is_refused(world: Path) -> None:
    elsewhere = world / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "doc.pdf").write_bytes(b"%PDF-1.4 not A's")
    os.symlink(elsewhere, world / "workflows" / "A" / "data" / "scans")
    scan_workflow(world, "data/scans")
    before = snapshot(elsewhere)
    refused_by_validate_and_trigger(world, "steal.yaml:7:7", "symbolic link")
    assert snapshot(elsewhere) == before


def test_account_path_into_another_client_is_refused(world: Path) -> None:
    profile = world / "workflows" / "A" / "client.yaml"
    profile.write_text(profile.read_text().replace("data/Maildir", "../B/data/Maildir"))
    scan_workflow(world, "data/in")
    (world / "workflows" / "A" / "data" / "in").mkdir()
    refused_by_validate_and_trigger(world, "client.yaml:4:", "client B's folder")


def test_archive_root_in_the_home_folder_is_refused(world: Path) -> None:
    profile = world / "workflows" / "A" / "client.yaml"
    home = world / "home"
    profile.write_text(profile.read_text().replace("data/Archivio", f"{home}/vault"))
    scan_workflow(world, "data/in")
    (world / "workflows" / "A" / "data" / "in").mkdir()
    refused_by_validate_and_trigger(world, "client.yaml:3:", "the avflow home folder")


def test_a_path_built_by_a_template_is_refused_at_use(world: Path) -> None:
    """validate cannot know a rendered value: the step fails at use, and nothing moves."""
    scan_workflow(world, "\"../{{ 'B' }}\"")
    before = guarded(world)
    assert avflow(world, "validate").code == 0
    t = avflow(world, "trigger", "A/steal")
    assert t.code == 1
    assert "path '../B' is refused: it leads into client B's folder" in t.err
    assert guarded(world) == before


def test_granted_roots(world: Path, tmp_path: Path) -> None:
    scans = tmp_path / "scans" / "A"
    scans.mkdir(parents=True)
    (scans / "doc.pdf").write_bytes(b"%PDF-1.4 a scan")
    profile = world / "workflows" / "A" / "client.yaml"
    profile.write_text(profile.read_text() + f"roots: [{scans}]\n")
    scan_workflow(world, str(scans))
    assert avflow(world, "validate").code == 0
    assert avflow(world, "trigger", "A/steal").code == 0
    assert not (scans / "doc.pdf").exists()
    assert list((world / "workflows" / "A" / "data" / "Archivio").rglob("doc.pdf"))
    # B may not name A's root, nor a root of its own over A's, nor the home folder as a root
    scan = world / "workflows" / "B" / "noop.yaml"
    scan.write_text(scan.read_text().replace("data/in", str(scans)))
    bprofile = world / "workflows" / "B" / "client.yaml"
    bprofile.write_text(bprofile.read_text() + f"roots: [{scans.parent}, {world / 'home'}]\n")
    lines = avflow(world, "validate").err.strip().splitlines()
    assert any("B/client.yaml:5:9: root" in ln and "a root of client A" in ln for ln in lines)
    assert any("B/client.yaml:5:" in ln and "the avflow home folder" in ln for ln in lines)
    assert any("noop.yaml:3:" in ln and "a root of client A" in ln for ln in lines), lines


def test_service_settings_grant_roots(world: Path, tmp_path: Path) -> None:
    scans = tmp_path / "srv-scans"
    scans.mkdir()
    scan_workflow(world, str(scans))
    assert avflow(world, "validate").code == 2
    (world / "home" / "service.yaml").write_text(f"roots:\n  A: [{scans}]\n")
    assert avflow(world, "validate").code == 0
    # a root it may not have is named at its own line in service.yaml, as in client.yaml
    bad = world / "workflows" / "B"
    (world / "home" / "service.yaml").write_text(f"roots:\n  A: [{scans}, rel/x, {bad}]\n")
    lines = avflow(world, "validate").err.strip().splitlines()
    where = f"{world / 'home' / 'service.yaml'}:2:"
    assert any(ln.startswith(where) and "'rel/x' must be an absolute path" in ln for ln in lines)
    assert any(ln.startswith(where) and "overlaps client B's folder" in ln for ln in lines), lines


@pytest.mark.parametrize("which", ["audit", "tls", "tls_cert"])
def test_a_root_holding_avflows_own_keys_is_refused(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    """Keys kept outside the home folder (AVFLOW_AUDIT_KEY, the dashboard's TLS key) are
    avflow's own: a client granted their folder as a root could file them into its archive."""
    keys = tmp_path / "usb"
    keys.mkdir()
    key = keys / "key.pem"
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    if which == "audit":
        monkeypatch.setenv("AVFLOW_AUDIT_KEY", str(key))
        why = "avflow's audit signing key"
    elif which == "tls":
        (keys / "cert.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")  # both files exist
        (world / "home" / "service.yaml").write_text(
            f"dashboard: {{tls_key: {key}, tls_cert: {keys / 'cert.pem'}}}\n"
        )
        why = "the dashboard's TLS"  # its key or its certificate, whichever is found first
    else:  # the certificate alone on the USB stick: replacing it would break the dashboard
        elsewhere = tmp_path / "secret-key.pem"
        elsewhere.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
        key.rename(keys / "cert.pem")
        key = keys / "cert.pem"
        (world / "home" / "service.yaml").write_text(
            f"dashboard: {{tls_key: {elsewhere}, tls_cert: {key}}}\n"
        )
        why = "the dashboard's TLS certificate"
    profile = world / "workflows" / "A" / "client.yaml"
    profile.write_text(profile.read_text() + f"roots: [{keys}]\n")
    scan_workflow(world, str(keys))
    v = avflow(world, "validate")
    assert v.code == 2 and any(
        "A/client.yaml:5:9: root" in ln and why in ln for ln in v.err.splitlines()
    ), v
    assert avflow(world, "trigger", "A/steal").code == 2
    assert key.exists() and not list((world / "workflows" / "A").rglob(key.name))


def test_symlink_swapped_in_after_the_check_is_refused_at_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The use-time check opens each component with O_NOFOLLOW from the allowed folder, so a
    link swapped in between the path check and the open is refused by the open itself."""
    from avflow.paths import Confinement, PathRefused

    home, a, b = tmp_path / "home", tmp_path / "w" / "A", tmp_path / "w" / "B"
    for d in (home / "keys", a / "data" / "in", b / "secret"):
        d.mkdir(parents=True)
    conf = Confinement.build("A", a, home=home, others=[("client B's folder", b)])
    assert conf.problem("data/in") is None
    fd = conf.open_dir("data/in")
    os.close(fd)
    (a / "data" / "in").rmdir()  # swapped after the check: a link to B
    os.symlink(b, a / "data" / "in")
    with pytest.raises(PathRefused, match="leads into client B's folder"):
        conf.open_dir("data/in")  # the check itself sees it
    checked = Confinement.resolve
    monkeypatch.setattr(Confinement, "resolve", lambda self, value: a)  # the race's window
    with pytest.raises(PathRefused, match="symbolic link"):
        conf.open_dir("data/in")
    os.unlink(a / "data" / "in")
    os.symlink(home / "keys", a / "data" / "in")
    with pytest.raises(PathRefused):
        conf.open_dir("data/in")
    monkeypatch.setattr(Confinement, "resolve", checked)
    with pytest.raises(PathRefused, match="control character"):
        conf.resolve("data/in\n")


# -- client ids ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["./B", "../x", "B/..", ".B", "B\n", "a/b", "", "B\x00", "B C"])
def test_secrets_set_refuses_a_bad_client_id(world: Path, bad: str) -> None:
    (world / "x").mkdir()
    (world / "x" / "client.yaml").write_text("name: x\n")  # ../x: a client folder beside workflows
    before = files(world)
    r = avflow(world, "secrets", "set", bad, "pw", stdin="stolen\n")
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and "is not a client id" in r.err, r
    assert files(world) == before


@pytest.mark.parametrize(
    "args",
    [
        ("secrets", "list", "../B"),
        ("secrets", "rm", "./B", "pw"),
        ("audit", "verify", "../B"),
        ("audit", "show", "B\n"),
        ("trigger", "../B/noop"),
        ("runs", "B\n"),
        ("next", "../B"),
    ],
)
def test_every_command_applies_the_client_id_rule(world: Path, args: tuple[str, ...]) -> None:
    r = avflow(world, *args)
    assert r.code == 2 and r.err.count("\n") == 1 and "is not a client id" in r.err, r


def test_client_folder_with_a_trailing_newline_or_a_symlink_is_not_a_client(world: Path) -> None:
    (world / "workflows" / "B\n").mkdir()
    (world / "workflows" / "B\n" / "client.yaml").write_text("name: evil\n")
    os.symlink(world / "workflows" / "B", world / "workflows" / "C")
    before = guarded(world)
    r = avflow(world, "validate")
    assert r.code == 2
    assert "is not a client id" in r.err and "may not be a symbolic link" in r.err, r
    listed = avflow(world, "secrets", "set", "C", "pw", stdin="x\n")
    assert listed.code == 2 and "symbolic link" in listed.err
    assert guarded(world) == before
    assert not (world / "home" / "vault" / "C.json").exists()
