"""What sits in the workflows folder and in service.yaml's ``roots:``, through the real command
line: every entry that cannot be a client is named (one line each, exit 2), never skipped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from clikit import Cli, folders, in_process


def avflow(root: Path, *args: str) -> Cli:
    """``avflow --workflows root/workflows --home root/home ARGS``, in this process."""
    return in_process(*folders(root), *args)


@pytest.fixture
def root(tmp_path: Path, no_autoload: None) -> Path:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text("name: Acme\n")
    (client / "hello.yaml").write_text("steps:\n  - uses: core.log\n    with: { message: hi }\n")
    (tmp_path / "home").mkdir()
    assert avflow(tmp_path, "validate").code == 0
    return tmp_path


@pytest.mark.parametrize("target", ["nowhere", "loop", "file"])
def test_a_link_that_is_no_folder_is_an_error_not_skipped(root: Path, target: str) -> None:
    link = root / "workflows" / "bloom"
    aim = {
        "nowhere": root / "gone",
        "loop": link,
        "file": root / "workflows" / "acme" / "hello.yaml",
    }
    os.symlink(aim[target], link)
    for args in (("validate",), ("run", "--once")):
        r = avflow(root, *args)
        assert r.code == 2, (args, r)
        line = f"{link}: a symbolic link to {aim[target]}, which "
        line += "is not a folder" if target == "file" else "leads nowhere"
        assert r.err.splitlines() == [
            f"{line}: a client folder must be a real folder (remove the link)"
        ], r
        assert "Traceback" not in r.out + r.err


def test_a_link_to_a_folder_elsewhere_is_refused_and_says_where(root: Path) -> None:
    elsewhere = root / "elsewhere" / "bloom"
    elsewhere.mkdir(parents=True)
    (elsewhere / "client.yaml").write_text("name: Bloom\n")
    os.symlink(elsewhere, root / "workflows" / "bloom")
    r = avflow(root, "validate")
    assert r.code == 2
    assert r.err == (
        f"{root / 'workflows' / 'bloom'}: a client folder may not be a symbolic link "
        f"(it leads to {elsewhere}): move or copy the folder itself here\n"
    )


def test_hidden_and_underscore_links_and_plain_files_are_still_ignored(root: Path) -> None:
    os.symlink(root / "gone", root / "workflows" / "_samples")
    os.symlink(root / "gone", root / "workflows" / ".cache")
    (root / "workflows" / "README.md").write_text("notes\n")
    assert avflow(root, "validate").out == "ok: 1 clients, 1 workflows\n"


# -- --workflows naming a file, not a folder ------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("list",),
        ("next",),
        ("run", "--once"),
        ("trigger", "acme/hello"),
        ("client", "new", "bloom"),
    ],
)
def test_workflows_naming_a_file_says_it_is_a_file(root: Path, args: tuple[str, ...]) -> None:
    shutil.rmtree(root / "workflows")
    (root / "workflows").write_text("steps: []\n")  # e.g. --workflows acme/hello.yaml
    r = avflow(root, *args)
    assert r.code == 2, (args, r)
    said = (
        f"{root / 'workflows'}: this is a file, not a folder: --workflows (or AVFLOW_WORKFLOWS) "
        "names the folder holding the client folders"
    )
    assert r.err.splitlines() in ([said], [f"error: {said}"]), (args, r)
    assert "does not exist" not in r.err
    assert (root / "workflows").read_text() == "steps: []\n"


def test_a_missing_workflows_folder_still_says_it_does_not_exist(root: Path) -> None:
    shutil.rmtree(root / "workflows")
    r = avflow(root, "validate")
    assert r.code == 2
    assert r.err == f"{root / 'workflows'}: workflows folder does not exist\n"


# -- service.yaml's roots: naming a client the workflows folder does not have ---------------------
@pytest.mark.parametrize("args", [("validate",), ("trigger", "acme/hello"), ("run", "--once")])
def test_service_roots_for_an_unknown_client_are_located_with_a_hint(
    root: Path, args: tuple[str, ...]
) -> None:
    granted = root / "granted"
    granted.mkdir()
    (root / "home" / "service.yaml").write_text(
        f"heartbeat: 60s\nroots:\n  acmee: [{granted}]\n  zeta: [{granted}]\n"
    )
    r = avflow(root, *args)
    assert r.code == 2, r
    workflows = root / "workflows"
    settings = root / "home" / "service.yaml"
    assert r.err.splitlines() == [
        f"{settings}:3:3: roots: no client 'acmee' in {workflows} (did you mean 'acme'?): "
        "the folders listed under it are granted to no one",
        f"{settings}:4:3: roots: no client 'zeta' in {workflows}: "
        "the folders listed under it are granted to no one",
    ], r


def test_service_roots_for_a_known_client_are_granted(root: Path) -> None:
    granted = root / "granted"
    granted.mkdir()
    (root / "home" / "service.yaml").write_text(f"roots:\n  acme: [{granted}]\n")
    assert avflow(root, "validate").code == 0


# -- the home folder and the workflows folder: neither may hold the other -------------------------
def run_in(cwd: Path, *argv: str) -> Cli:
    """``avflow ARGV`` in ``cwd`` (no --workflows given: the default is cwd/workflows)."""
    before = Path.cwd()
    os.chdir(cwd)
    try:
        return in_process(*argv)
    finally:
        os.chdir(before)


@pytest.mark.parametrize(
    ("home", "directory", "why"),
    [
        ("h", "h/wf", "holds the workflows folder h/wf: give a home beside it, not above it"),
        ("link", "h/wf", "holds the workflows folder h/wf: give a home beside it, not above it"),
        ("wf/h", "wf", "is inside the workflows folder wf: give a home beside it, not inside it"),
        (".", "wf", "holds the workflows folder wf: give a home beside it, not above it"),
    ],
)
def test_init_refuses_a_folder_inside_the_home_or_around_it(
    tmp_path: Path, no_autoload: None, home: str, directory: str, why: str
) -> None:
    (tmp_path / "h").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "h")
    before = sorted(tmp_path.rglob("*"))
    r = run_in(tmp_path, "--home", home, "init", directory)
    assert r.code == 2, r
    shown = os.path.abspath(tmp_path / home)
    assert r.err == f"error: the home folder {shown} (--home) {why} (--home)\n", r
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_init_elsewhere_is_not_refused_for_the_default_workflows_folder(
    tmp_path: Path, no_autoload: None
) -> None:
    """The home holds ./workflows (the default), not DIR: DIR is what init makes."""
    (tmp_path / "here").mkdir()
    r = run_in(tmp_path / "here", "--home", str(tmp_path / "here"), "init", str(tmp_path / "wf"))
    assert r.code == 0, r
    assert (tmp_path / "wf" / "my-client" / "client.yaml").is_file()
    r = run_in(tmp_path / "here", "--home", str(tmp_path / "here"), "init")
    assert r.code == 2 and "holds the workflows folder workflows" in r.err, r


def test_a_home_inside_the_workflows_folder_is_refused_by_every_command(root: Path) -> None:
    home = root / "workflows" / "acme" / "home"
    for args in (("validate",), ("trigger", "acme/hello"), ("runs",)):
        r = avflow(root, "--home", str(home), *args)
        assert r.code == 2, r
        assert r.err == (
            f"error: the home folder {home} (--home) is inside the workflows folder "
            f"{root / 'workflows'}: give a home beside it, not inside it (--home)\n"
        ), r
    assert not home.exists()


# -- arguments that are not UTF-8 (a mistyped byte in a shell), typos in CLIENT/WORKFLOW ----------
NOT_UTF8 = b"\xff".decode("utf-8", "surrogateescape")  # what Python makes of such an argv byte


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("effects", "show", NOT_UTF8), "run"),
        (("effects", "resolve", NOT_UTF8, "k", "--done"), "run"),
        (("effects", "resolve", "RUN", NOT_UTF8, "--done"), "effect key"),
        (("runs", f"acme/{NOT_UTF8}"), "workflow"),
        (("audit", "verify", NOT_UTF8), None),
    ],
)
def test_an_argument_that_is_not_utf8_is_one_line(
    root: Path, args: tuple[str, ...], what: str | None
) -> None:
    assert avflow(root, "trigger", "acme/hello").code == 0
    run = avflow(root, "runs", "--json").out.splitlines()[0].split('"id": "')[1].split('"')[0]
    r = avflow(root, *[run if a == "RUN" else a for a in args])
    assert r.code == 2, r
    assert len(r.err.splitlines()) == 1 and "Traceback" not in r.err, r
    if what is None:
        assert "is not a client id" in r.err, r
    else:
        assert r.err == f"error: {what} '\\udcff' is not UTF-8 text\n", r


@pytest.mark.parametrize("ref", ["acme/nope", "acme/hello/x", "/hello"])
def test_runs_of_a_workflow_that_does_not_exist_is_not_no_runs_yet(root: Path, ref: str) -> None:
    r = avflow(root, "runs", ref)
    assert r.code == 2 and len(r.err.splitlines()) == 1, r
    assert "no runs yet" not in r.out
    if ref == "/hello":
        assert "'' is not a client id" in r.err, r
    else:
        workflow = ref.split("/", 1)[1]
        assert r.err == f"error: client 'acme' has no workflow {workflow!r} (workflows: hello)\n"


def test_runs_of_a_removed_workflow_are_still_listed(root: Path) -> None:
    assert avflow(root, "trigger", "acme/hello").code == 0
    (root / "workflows" / "acme" / "hello.yaml").unlink()
    r = avflow(root, "runs", "acme/hello")
    assert r.code == 0 and "acme/hello" in r.out, r
    assert avflow(root, "runs", "acme/nope").code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "-n", "99999999999999999999999"),
        ("audit", "show", "acme", "-n", "99999999999999999999999"),
        ("approvals", "--offset", "99999999999999999999999"),
        ("next", "-n", "99999999999"),
    ],
)
def test_a_number_too_big_is_a_usage_error_not_a_traceback(
    root: Path, args: tuple[str, ...]
) -> None:
    """An extra digit or a paste: SQLite cannot take it (runs, approvals, audit show was a
    traceback) or the command would print for hours (next)."""
    assert avflow(root, "trigger", "acme/hello").code == 0
    r = avflow(root, *args)
    assert r.code == 2 and "Traceback" not in r.err, r
    assert f"Error: Invalid value for '{args[-2]}'" in r.err and "is not in the range" in r.err, r


@pytest.mark.parametrize("kind", ["file", "link to nowhere"])
def test_a_home_that_is_a_file_or_a_link_to_nowhere_is_one_line(root: Path, kind: str) -> None:
    home = root / "h"
    if kind == "file":
        home.write_text("notes\n")
        why = "not a folder"
    else:
        home.symlink_to(root / "gone")
        why = "a symbolic link to nowhere"
    for args in (("runs",), ("trigger", "acme/hello"), ("status",)):
        r = avflow(root, "--home", str(home), *args)
        assert r.code == 2, (args, r)
        assert r.err == f"error: cannot use {home} as the home folder: {why}\n", (args, r)
    assert not (root / "gone").exists()
