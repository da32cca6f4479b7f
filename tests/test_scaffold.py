"""`avflow init` and `avflow client new`: valid as written, never overwriting, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avflow.cli import main
from avflow.loader import Loader
from avflow.plugins import PluginManager


def avflow(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_a_commented_client_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wf"
    code, out, _ = avflow(capsys, "--home", str(tmp_path / "home"), "init", str(root))
    assert code == 0 and "my-client" in out
    profile = (root / "my-client" / "client.yaml").read_text()
    assert profile.count("#") > 10  # commented for the AV who edits it
    project, errors = Loader(PluginManager(autoload=False).registry).load(root)
    assert not errors, errors
    client = project.clients["my-client"]
    assert client.profile.language == "en" and "12-24/12-31" in client.profile.closed
    assert set(client.workflows) == {"hello"}
    code, out, err = avflow(
        capsys, "--workflows", str(root), "--home", str(tmp_path / "h"), "validate"
    )
    assert code == 0, out + err
    code, out, err = avflow(
        capsys,
        "--workflows",
        str(root),
        "--home",
        str(tmp_path / "h"),
        "trigger",
        "my-client/hello",
    )
    assert code == 0, out + err


def test_init_refuses_a_folder_with_something_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wf" / "acme").mkdir(parents=True)
    code, _, err = avflow(capsys, "--home", str(tmp_path / "home"), "init", str(tmp_path / "wf"))
    assert code == 2 and err.count("\n") == 1 and "is not empty" in err
    assert not (tmp_path / "wf" / "my-client").exists()


def test_client_new_adds_a_valid_client(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "wf"
    root.mkdir()
    base = ["--workflows", str(root), "--home", str(tmp_path / "home")]
    assert avflow(capsys, *base, "client", "new", "studio-rossi")[0] == 0
    project, errors = Loader(PluginManager(autoload=False).registry).load(root)
    assert not errors and "studio-rossi" in project.clients
    before = (root / "studio-rossi" / "client.yaml").read_text()
    code, _, err = avflow(capsys, *base, "client", "new", "studio-rossi")
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    assert (root / "studio-rossi" / "client.yaml").read_text() == before


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden", "con sp", "x" * 200])
def test_client_new_refuses_bad_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    root = tmp_path / "wf"
    code, _, err = avflow(
        capsys, "--workflows", str(root), "--home", str(tmp_path / "home"), "client", "new", bad
    )
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and not any(tmp_path.rglob("client.yaml"))


def test_client_new_makes_no_workflows_folder_in_passing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped --workflows (or the wrong current folder) made a new workflows folder there."""
    root = tmp_path / "wokflows"
    code, _, err = avflow(
        capsys, "--workflows", str(root), "--home", str(tmp_path / "h"), "client", "new", "acme"
    )
    assert code == 2
    assert err == f"error: no workflows folder {root}: `avflow init {root}` makes one\n"
    assert not root.exists()


@pytest.mark.parametrize("where", ["a link to nowhere", "under a file"])
def test_init_where_no_folder_can_be_made_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    if where == "a link to nowhere":
        root = tmp_path / "wf"
        root.symlink_to(tmp_path / "gone")
        why = f"{root} is a symbolic link to nowhere ({tmp_path / 'gone'})"
    else:
        (tmp_path / "notes.txt").write_text("x\n")
        root = tmp_path / "notes.txt" / "wf"
        why = f"{tmp_path / 'notes.txt'} is a file, not a folder"
    code, _, err = avflow(capsys, "--home", str(tmp_path / "h"), "init", str(root))
    assert code == 2
    assert err == f"error: cannot make {root / 'my-client'}: {why}\n"
    code, _, err = avflow(
        capsys, "--workflows", str(root), "--home", str(tmp_path / "h"), "client", "new", "acme"
    )
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "gone").exists()


def test_init_stopped_midway_leaves_no_half_client_and_can_run_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between the two files: no client folder with a client.yaml and no workflow (or
    a cut-short one), and `avflow init` run again is not refused as 'not empty'."""
    root = tmp_path / "wf"
    real = Path.write_text

    def stop_at_the_workflow(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if self.name == "hello.yaml":
            raise KeyboardInterrupt
        return real(self, text)

    monkeypatch.setattr(Path, "write_text", stop_at_the_workflow)
    code, _, err = avflow(capsys, "--home", str(tmp_path / "h"), "init", str(root))
    assert code == 1 and "aborted" in err
    assert [p.name for p in root.iterdir()] == []
    monkeypatch.setattr(Path, "write_text", real)
    code, _, err = avflow(capsys, "--home", str(tmp_path / "h"), "init", str(root))
    assert code == 0, err
    assert sorted(p.name for p in (root / "my-client").iterdir()) == ["client.yaml", "hello.yaml"]
    assert oct((root / "my-client").stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
