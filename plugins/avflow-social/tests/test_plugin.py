"""The plugin is installed through its entry point and uses only avflow's public API."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

AVFLOW = str(Path(sys.executable).parent / "avflow")


def test_entry_point_is_installed() -> None:
    [ep] = [ep for ep in entry_points(group="avflow") if ep.name == "social"]
    assert ep.value == "avflow_social.plugin"


def test_registrations(avflow_harness) -> None:
    reg = avflow_harness.pm.registry
    assert "social.publish" in reg.actions and "social_outbox" in reg.account_types
    assert reg.actions["social.publish"].params.model_json_schema()["type"] == "object"


def test_plugin_imports_only_the_public_api() -> None:
    src = Path(__file__).parents[1] / "src" / "avflow_social"
    private = [
        f"{path.name}: {line.strip()}"
        for path in src.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import avflow.", "from avflow."))
    ]
    assert private == []


def test_help_is_the_docstrings() -> None:
    out = subprocess.run(
        [AVFLOW, "social", "queue", "--help"], capture_output=True, text=True, check=True
    )
    assert "Show CLIENT's posts" in out.stdout and "--at" in out.stdout
