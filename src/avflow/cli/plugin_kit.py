"""What ``avflow plugin new NAME`` writes: a plugin distribution whose action performs a real
effect (a file written into a folder of the client's) with a ``reconcile``, and tests that pass
right after ``pip install -e``: the contract checks and a crash followed by a resume."""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "avflow-{name}"
version = "0.1.0"
description = "An avflow plugin: {name}."
requires-python = ">=3.11"
dependencies = ["avflow"]

[project.optional-dependencies]
test = ["pytest>=8"]

# avflow finds the plugin through this entry point, like its own built-in plugins.
[project.entry-points.avflow]
{name} = "avflow_{name}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 100
"""

README = """\
# avflow-{name}

An avflow plugin. Its action `{name}.write_note` writes a text file into a folder of the
client's, once: a run that is retried or resumed after a crash never writes it twice.

```sh
pip install -e ".[test]"      # in the environment where avflow is installed
pytest                        # the plugin's tests (avflow.testing's harness)
avflow plugins                # lists {name} and its action
```

In a workflow:

```yaml
steps:
  - uses: {name}.write_note
    with:
      folder: notes             # inside the client's folder, or one of its roots
      name: "hello.txt"
      text: "Hello from {{{{ client.name }}}}"
```

See avflow's docs/plugins.md for the plugin API.
"""

PLUGIN = '''\
"""avflow-{name}: an avflow plugin (see README.md)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

import avflow


class WriteNoteParams(BaseModel):
    """``with:`` of ``{name}.write_note``; unknown keys are errors at `avflow validate`."""

    model_config = ConfigDict(extra="forbid")

    folder: Annotated[str, avflow.LocalPath()] = Field(
        description="A folder of the client's (relative: from the client's folder)."
    )
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{{0,99}}$", description="The file's name."
    )
    text: str = Field(max_length=100_000, description="What the file holds.")


def write_note(ctx: avflow.StepContext, params: WriteNoteParams) -> dict[str, Any]:
    """Write ``text`` into ``folder/name``: one effect, through avflow's ledger."""
    data = params.text.encode()
    digest = hashlib.sha256(data).hexdigest()[:16]
    # A path that leads out of the client's folders is refused here (avflow.PathRefused);
    # a dry run checks it but creates nothing.
    if ctx.dry_run:
        folder = avflow.confine(ctx.client, params.folder)
    else:
        folder = avflow.confined_folder(ctx.client, params.folder, create=True)
    target = folder / params.name

    def perform() -> dict[str, Any]:
        avflow.atomic_write(target, data, 0o644)
        return {{"file": params.name, "bytes": len(data)}}

    def reconcile() -> dict[str, Any] | None:
        # Asked after a crash left the outcome unknown: is the file there, with this text?
        if target.is_file() and target.read_bytes() == data:
            return {{"file": params.name, "bytes": len(data)}}
        return None  # not written: perform() runs again

    result = ctx.effect(
        f"note:{{params.folder}}/{{params.name}}:{{digest}}",  # the same effect, the same key
        f"write {{params.name}} in {{params.folder}}",
        perform,
        kind="{name}.note",
        reconcile=reconcile,
        words={{"name": params.name, "folder": params.folder}},
    )
    return {{"file": params.name, "written": result is not None}}


# How the client's report tells this effect, per language (avflow.EffectWords).
EFFECTS = {{
    "{name}.note": {{
        "en": avflow.EffectWords("Notes written", "Wrote {{name}} in {{folder}}"),
        "it": avflow.EffectWords("Note scritte", "Scritto {{name}} in {{folder}}"),
    }}
}}


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action(
            "{name}.write_note",
            WriteNoteParams,
            write_note,
            "Write a text file into a folder of the client's, once.",
            effects=EFFECTS,
        )
    )
'''

TESTS = r'''"""avflow-{name}'s tests, with avflow's harness (the ``avflow_harness`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

import avflow
from avflow.testing import Harness, SimulatedCrash, check_action_contract

WORKFLOW = {{
    "steps": [
        {{
            "uses": "{name}.write_note",
            "with": {{"folder": "notes", "name": "hello.txt", "text": "Hello {{{{ client.name }}}}"}},
        }}
    ]
}}


def note_workflow(h: Harness) -> Path:
    """A client with the note workflow; returns the folder the note goes into."""
    h.client("acme", name="Acme")
    h.workflow("acme", "note", WORKFLOW)
    return h.workflows / "acme" / "notes"


def files(folder: Path) -> dict[str, str]:
    return {{p.name: p.read_text() for p in folder.glob("*")}} if folder.is_dir() else {{}}


def test_the_plugin_is_installed(avflow_harness: Harness) -> None:
    assert avflow_harness.pm.registry.owners["action:{name}.write_note"] == "{name}"


def test_write_note_writes_the_file(avflow_harness: Harness) -> None:
    notes = note_workflow(avflow_harness)
    result = avflow_harness.run("acme/note")
    assert result.ok, result.error
    assert files(notes) == {{"hello.txt": "Hello Acme"}}
    assert len(result.performed()) == 1
    assert result.outputs["step1"] == {{"file": "hello.txt", "written": True}}


def test_a_dry_run_writes_nothing(avflow_harness: Harness) -> None:
    notes = note_workflow(avflow_harness)
    result = avflow_harness.run("acme/note", dry_run=True)
    assert result.ok, result.error
    assert files(notes) == {{}} and result.performed() == []


def test_the_action_contract(avflow_harness: Harness) -> None:
    notes = note_workflow(avflow_harness)
    check_action_contract(avflow_harness, "acme/note", remote_state=lambda: files(notes))
    assert files(notes) == {{"hello.txt": "Hello Acme"}}


def test_a_crash_after_the_write_is_resumed_without_writing_again(
    avflow_harness: Harness,
) -> None:
    h = avflow_harness
    notes = note_workflow(h)
    h.crash_at(1, "after")  # the file is written, the ledger never hears of it
    with pytest.raises(SimulatedCrash):
        h.run("acme/note")
    assert files(notes) == {{"hello.txt": "Hello Acme"}}
    written = (notes / "hello.txt").stat().st_mtime_ns
    (resumed,) = h.resume()  # as a restarted service would
    assert resumed.ok, resumed.error
    events = [r["event"] for r in resumed.audit]
    assert "effect.reconciled" in events  # reconcile() found the file: not written again
    assert (notes / "hello.txt").stat().st_mtime_ns == written


def test_a_folder_outside_the_client_is_refused(avflow_harness: Harness) -> None:
    h = avflow_harness
    h.client("acme")
    step = {{"uses": "{name}.write_note", "with": {{"folder": "../elsewhere", "name": "x", "text": "x"}}}}
    h.workflow("acme", "out", {{"steps": [step]}})
    # avflow.LocalPath: `avflow validate` (and loading) refuses it at its file and line
    with pytest.raises(avflow.ConfigError, match=r"out\.yaml:\d+:\d+: path '\.\./elsewhere' is refused"):
        h.run("acme/out")
    assert not (h.workflows / "elsewhere").exists()
'''
