"""The bundled demo (workflows/): every file validates, and every workflow runs on a fresh copy.

This is an integration test: it uses the installed built-in plugins, as `make run` does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import child, folders

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "workflows"


def avflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return child(*folders(root), *args, drop=["AVFLOW_DISABLE_PLUGIN_AUTOLOAD"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, root / "workflows", ignore=shutil.ignore_patterns("data", "__pycache__"))
    seeded = subprocess.run(
        [sys.executable, str(root / "workflows" / "_samples" / "seed.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    return root


def demo_workflows() -> list[str]:
    return sorted(
        f"{p.parent.name}/{p.stem}"
        for p in DEMO.glob("*/*.yaml")
        if p.name != "client.yaml" and not p.parent.name.startswith(("_", "."))
    )


def test_demo_has_several_clients_and_workflows() -> None:
    refs = demo_workflows()
    assert len({r.split("/")[0] for r in refs}) >= 3
    assert {"acme/inbox", "studio-rossi/scanner"} <= set(refs)


def test_demo_validates(demo: Path) -> None:
    result = avflow(demo, "validate")
    assert result.returncode == 0, result.stderr
    assert f"{len(demo_workflows())} workflows" in result.stdout


@pytest.mark.parametrize("ref", demo_workflows())
def test_demo_workflow_runs(demo: Path, ref: str) -> None:
    dry = avflow(demo, "trigger", ref, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    result = avflow(demo, "trigger", ref, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status": "succeeded"' in result.stdout


def test_demo_did_the_work(demo: Path) -> None:
    for ref in demo_workflows():
        avflow(demo, "trigger", ref)  # idempotent: a second pass has nothing left to do
    acme = demo / "workflows" / "acme" / "data"
    invoices = [p for p in (acme / "Archivio" / "Fatture").rglob("*") if p.is_file()]
    assert invoices, "no supplier invoice was filed"
    assert all(p.suffix == ".pdf" for p in invoices)
    inbox_new = list((acme / "Maildir" / "new").iterdir()) + list(
        (acme / "Maildir" / "cur").iterdir()
    )
    fatture = list((acme / "Maildir" / ".Fatture" / "cur").iterdir()) + list(
        (acme / "Maildir" / ".Fatture" / "new").iterdir()
    )
    assert fatture and len(fatture) == len({p.name.split(":")[0] for p in fatture})
    assert not any(
        "fattura" in p.read_text(errors="replace").lower().split("subject:", 1)[-1][:80]
        for p in inbox_new
    )
    rossi = demo / "workflows" / "studio-rossi" / "data"
    assert list((rossi / "scanner").iterdir()) == []
    assert len([p for p in (rossi / "Archivio").rglob("*") if p.is_file()]) == 4
    verify = avflow(demo, "audit", "verify", "acme")
    assert verify.returncode == 0, verify.stdout + verify.stderr
