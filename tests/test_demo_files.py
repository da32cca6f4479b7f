"""The bundled demo's files: every built-in capability used, a README per client, demo.yaml valid.

tests/test_demo.py validates and runs every workflow file; tests/test_newcomer.py runs the whole
demo as `make run` does (demo.yaml's first pass included).
"""

from __future__ import annotations

from pathlib import Path

from avflow.scheduler.startup import read_demo
from avflow.yamlfile import read_doc

DEMO = Path(__file__).resolve().parents[1] / "workflows"
CAPABILITIES = ("email.", "archive.", "calendar.", "social.")


def clients() -> list[Path]:
    return sorted(p for p in DEMO.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def test_the_demo_uses_every_built_in_capability() -> None:
    used = set()
    for cdir in clients():
        for wf in cdir.glob("*.yaml"):
            if wf.name != "client.yaml":
                used |= {str(s.get("uses", "")) for s in read_doc(wf).data["steps"]}
    for prefix in CAPABILITIES:
        assert any(u.startswith(prefix) for u in used), f"no demo workflow uses {prefix}*"


def test_each_demo_client_says_how_to_switch_to_the_real_services() -> None:
    for cdir in clients():
        readme = (cdir / "README.md").read_text()
        assert "## Switching to the real services" in readme, cdir.name
        for wf in cdir.glob("*.yaml"):
            if wf.name != "client.yaml":
                assert f"`{wf.name}`" in readme, (
                    f"{cdir.name}/README.md does not describe {wf.name}"
                )


def test_demo_yaml_marks_the_first_pass_and_is_the_only_top_level_file() -> None:
    assert read_demo(DEMO).first_pass is True
    top = sorted(p.name for p in DEMO.iterdir() if p.is_file())
    assert top == ["demo.yaml"], top
