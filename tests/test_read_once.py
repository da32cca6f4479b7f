"""Every file is parsed once, positions included: a valid folder, and a folder whose mistakes
are found after parsing (and still named by file:line:column), read nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avflow import yamlfile
from avflow.loader import Loader
from avflow.plugins import PluginManager

PROFILE = "name: Acme\ntimezone: Europe/Rome\n"
WORKFLOW = (
    "name: {name}\non:\n  schedule:\n    - cron: '0 9 * * 1-5'\n"
    "steps:\n  - uses: core.log\n    with:\n      message: '{{{{ client.name }}}}: {message}'\n"
)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every document libyaml composed."""
    texts: list[str] = []
    real = yamlfile.compose

    def compose(text: str, careful: bool) -> Any:
        texts.append(text)
        return real(text, careful)

    monkeypatch.setattr(yamlfile, "compose", compose)
    return texts


def _folder(tmp_path: Path, *workflows: tuple[str, str]) -> Path:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(PROFILE)
    for name, text in workflows:
        (client / f"{name}.yaml").write_text(text)
    return tmp_path / "workflows"


def _load(root: Path) -> tuple[Any, list[Any]]:
    return Loader(PluginManager(autoload=False).registry, compact=True).load(root)


def test_a_valid_folder_is_read_once(tmp_path: Path, counted: list[str]) -> None:
    root = _folder(
        tmp_path,
        ("a", WORKFLOW.format(name="First", message="one")),
        ("b", WORKFLOW.format(name="Second", message="two")),
    )
    project, errors = _load(root)
    assert errors == []
    assert len(project.workflows()) == 2
    assert len(counted) == 3


def test_a_mistake_is_located_without_reading_the_file_again(
    tmp_path: Path, counted: list[str]
) -> None:
    bad = WORKFLOW.format(name="Second", message="two").replace("client.name", "clent.name")
    root = _folder(tmp_path, ("a", WORKFLOW.format(name="First", message="one")), ("b", bad))
    _, errors = _load(root)
    assert [str(e) for e in errors] == [
        f"{root / 'acme' / 'b.yaml'}:8:7: template uses unknown variable 'clent' "
        "(available: client, run, steps, workflow)"
    ]
    assert len(counted) == 3


def test_a_duplicate_name_names_the_first_file_and_line(tmp_path: Path, counted: list[str]) -> None:
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
    assert len(counted) == 3


def test_a_syntax_error_is_located_as_before(tmp_path: Path, counted: list[str]) -> None:
    root = _folder(tmp_path, ("a", "name: x\nname: y\nsteps: []\n"))
    _, errors = _load(root)
    assert [str(e) for e in errors] == [
        f"{root / 'acme' / 'a.yaml'}:2:1: duplicate key 'name' (first on line 1)"
    ]
    assert len(counted) == 2


def test_a_kept_workflow_is_scheduled_without_validating_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's job of a compact workflow comes from what was read at load time, equal to
    the job of the same workflow loaded in full; its model is not validated again for it."""
    from avflow.models import Workflow
    from avflow.scheduler.planner import job_for

    gated = WORKFLOW.format(name="G", message="g").replace(
        "steps:", "  when: working_hours\n  catch_up: all\n  grace: 2h\n  max_catch_up: 3\nsteps:"
    )
    off = WORKFLOW.format(name="Off", message="o").replace("name: Off", "name: Off\nenabled: false")
    root = _folder(tmp_path, ("a", WORKFLOW.format(name="", message="a")), ("g", gated), ("o", off))
    full, errors = Loader(PluginManager(autoload=False).registry).load(root)
    assert errors == []
    project, errors = _load(root)
    assert errors == []
    validated: list[Any] = []
    real = Workflow.model_validate
    monkeypatch.setattr(
        Workflow, "model_validate", lambda data: validated.append(data) or real(data)
    )
    client = project.clients["acme"]
    for wid in ("a", "g", "o"):
        wf, twin = client.workflows[wid], full.clients["acme"].workflows[wid]
        assert wf.name == twin.name and wf.timing == twin.timing
        job, expected = job_for(client, wf), job_for(full.clients["acme"], twin)
        if expected is None:
            assert job is None
            continue
        assert job is not None
        got = (job.schedule.crons, job.catch_up, job.grace, job.max_catch_up, job.fingerprint)
        assert got == (
            expected.schedule.crons,
            expected.catch_up,
            expected.grace,
            expected.max_catch_up,
            expected.fingerprint,
        )
        assert (job.gate is None) == (expected.gate is None)
    assert validated == []
    assert client.workflows["a"].name == "a"  # an empty name: the file's id
    assert client.workflows["g"].timing.catch_up == "all"
