"""A third-party provider, in a plugin of its own found through its entry point, is listed and
used: one small class is all a new network needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from social_helpers import social_client, write_post

from avflow.testing import Harness

PIGEON = '''
"""A test network: each post is a line in a file (stands for any third party's network)."""
import json
from pathlib import Path

import avflow
from avflow_social import ChannelSettings, Provider, Published


class PigeonSettings(ChannelSettings):
    loft: str


class Pigeon(Provider):
    name = "pigeon"
    description = "Carrier pigeons (a third-party test provider)."
    settings = PigeonSettings
    max_chars = 40

    def publish(self, target, out):
        loft = Path(target.settings.loft)
        with loft.open("a") as f:
            f.write(json.dumps({"key": out.key, "text": out.text}) + "\\n")
        return Published(out.key, f"pigeon://{out.key}")

    def lookup(self, target, out):
        loft = Path(target.settings.loft)
        lines = loft.read_text().splitlines() if loft.exists() else []
        found = any(json.loads(line)["key"] == out.key for line in lines)
        return Published(out.key, f"pigeon://{out.key}") if found else None


@avflow.hookimpl
def register_social_providers(register):
    register(Pigeon())
'''


def install(site: Path) -> None:
    """A distribution on the path: its module and a dist-info with the avflow entry point."""
    (site / "avflow_pigeon").mkdir(parents=True)
    (site / "avflow_pigeon" / "__init__.py").write_text(PIGEON)
    info = site / "avflow_pigeon-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: avflow-pigeon\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[avflow]\npigeon = avflow_pigeon\n")


def cli(h: Harness, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "avflow", "--workflows", str(h.workflows), "--home", str(h.home), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_third_party_provider_is_listed_and_used(avflow_harness: Harness, tmp_path: Path) -> None:
    h = avflow_harness
    site = tmp_path / "site"
    install(site)
    loft = tmp_path / "loft.jsonl"
    posts = social_client(h, accounts={"birds": {"type": "pigeon", "loft": str(loft)}})
    write_post(posts, "hello", "Coo from the bakery", publish="2026-01-05 09:00",
               channels=["birds"], status="approved")  # fmt: skip
    write_post(
        posts, "long", "x" * 41, publish="2030-01-05 09:00", channels=["birds"], status="approved"
    )
    listed = cli(h, site, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    table = json.loads(listed.stdout)
    assert "pigeon" in table and "pigeon" in table["social"]["account_types"]
    providers = cli(h, site, "social", "providers")
    assert "pigeon: Carrier pigeons" in providers.stdout and "avflow_pigeon" in providers.stdout
    queue = cli(h, site, "social", "queue", "bloom", "--json")
    problems = [
        p["message"] for r in map(json.loads, queue.stdout.splitlines()) for p in r["problems"]
    ]
    assert problems == ["text is 41 characters, pigeon allows 40"] and queue.returncode == 1
    run = cli(h, site, "trigger", "bloom/publish", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "pigeon://hello:birds:r1" in run.stdout
    assert [json.loads(x)["key"] for x in loft.read_text().splitlines()] == ["hello:birds:r1"]
    assert cli(h, site, "trigger", "bloom/publish").returncode == 0
    assert len(loft.read_text().splitlines()) == 1
    without = cli(h, tmp_path / "empty", "validate")
    assert without.returncode == 2 and "pigeon" in without.stderr
