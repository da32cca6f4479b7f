"""Files are read without positions first: a valid folder is parsed once per file, and a file
with a mistake is read again with positions, so every error still names file:line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avflow import yamlcompose, yamlfile
from avflow.loader import Loader
from avflow.plugins import PluginManager

PROFILE = "name: Acme\ntimezone: Europe/Rome\n"
WORKFLOW = (
    "name: {name}\non:\n  schedule:\n    - cron: '0 9 * * 1-5'\n"
    "steps:\n  - uses: core.log\n    with:\n      message: '{{{{ client.name }}}}: {message}'\n"
)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[bool, int]:
    """How many times a file was composed, with positions (True) and without (False: by the
    event composer, or by the quick pass when it read the file)."""
    counts = {True: 0, False: 0}
    real = yamlcompose.Composer.__init__
    real_quick = yamlfile.quick

    def quick(text: str) -> Any:
        found = real_quick(text)
        counts[False] += found is not None
        return found

    def counting(self: Any, text: str, path: Path, positions: bool = True) -> None:
        counts[positions] += 1
        real(self, text, path, positions)

    monkeypatch.setattr(yamlcompose.Composer, "__init__", counting)
    monkeypatch.setattr(yamlfile, "quick", quick)
    return counts


def _folder(tmp_path: Path, *workflows: tuple[str, str]) -> Path:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(PROFILE)
    for name, text in workflows:
        (client / f"{name}.yaml").write_text(text)
    return tmp_path / "workflows"


def _load(root: Path) -> tuple[Any, list[Any]]:
    return Loader(PluginManager(autoload=False).registry, compact=True).load(root)


def test_a_valid_folder_is_read_once_without_positions(
    tmp_path: Path, counted: dict[bool, int]
) -> None:
    root = _folder(
        tmp_path,
        ("a", WORKFLOW.format(name="First", message="one")),
        ("b", WORKFLOW.format(name="Second", message="two")),
    )
    project, errors = _load(root)
    assert errors == []
    assert len(project.workflows()) == 2
    assert counted == {False: 3, True: 0}


def test_a_mistake_is_located_by_reading_that_file_again(
    tmp_path: Path, counted: dict[bool, int]
) -> None:
    bad = WORKFLOW.format(name="Second", message="two").replace("client.name", "clent.name")
    root = _folder(tmp_path, ("a", WORKFLOW.format(name="First", message="one")), ("b", bad))
    _, errors = _load(root)
    assert [str(e) for e in errors] == [
        f"{root / 'acme' / 'b.yaml'}:8:7: template uses unknown variable 'clent' "
        "(available: client, run, steps, workflow)"
    ]
    assert counted == {False: 3, True: 1}


def test_a_duplicate_name_names_the_first_file_and_line(
    tmp_path: Path, counted: dict[bool, int]
) -> None:
    root = _folder(
        tmp_path,
        ("a", WORKFLOW.format(name="Same", message="one")),
        ("b", "\n" + WORKFLOW.format(name="Same", message="two")),
    )
    _, errors = _load(root)
    assert [str(e) for e in errors] == [
        f"{root / 'acme' / 'b.yaml'}:2:1: workflow name 'Same' is already used by a.yaml "
        "(line 1): each workflow of a client needs its own name"
    ]
    assert counted[True] == 2


def test_a_syntax_error_is_located_as_before(tmp_path: Path, counted: dict[bool, int]) -> None:
    root = _folder(tmp_path, ("a", "name: x\nname: y\nsteps: []\n"))
    _, errors = _load(root)
    assert [str(e) for e in errors] == [
        f"{root / 'acme' / 'a.yaml'}:2:1: duplicate key 'name' (first on line 1)"
    ]
    assert counted[True] == 1
