"""The plugin is installed through its entry point and registers what docs/archive.md lists."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def test_entry_point_is_installed():
    [ep] = [ep for ep in entry_points(group="avflow") if ep.name == "archive"]
    assert ep.value == "avflow_archive.plugin"


def test_registrations(avflow_harness):
    reg = avflow_harness.pm.registry
    assert {"archive.file", "archive.scan"} <= set(reg.actions)
    assert {"local", "google_drive", "sftp", "webdav"} <= set(reg.account_types)
    assert "archive.new_file" in reg.triggers
    assert reg.actions["archive.file"].template_vars == frozenset({"file"})
    for name in ("archive.file", "archive.scan"):
        assert reg.actions[name].params.model_json_schema()["type"] == "object"


def test_schemas_name_the_parameters():
    out = subprocess.run([AVFLOW, "schema"], capture_output=True, text=True, check=True)
    schema = json.dumps(json.loads(out.stdout))
    for needle in ("archive.file", "archive.scan", "archive.new_file", "Destination template"):
        assert needle in schema
    client = subprocess.run(
        [AVFLOW, "schema", "--kind", "client"], capture_output=True, text=True, check=True
    )
    assert "retention_years" in client.stdout and "folder_id" in client.stdout


def test_plugin_imports_only_the_public_api():
    src = Path(__file__).parents[1] / "src" / "avflow_archive"
    private = [
        f"{path.name}: {line.strip()}"
        for path in src.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import avflow.", "from avflow."))  # avflow internals
    ]
    assert private == []


def test_help_is_the_docstrings():
    out = subprocess.run(
        [AVFLOW, "archive", "search", "--help"], capture_output=True, text=True, check=True
    )
    assert "Full-text search" in out.stdout and "fattur*" in out.stdout
