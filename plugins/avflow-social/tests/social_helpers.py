"""Helpers for the social plugin's tests: a client with a content calendar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from avflow.testing import Harness

AVFLOW = str(Path(sys.executable).parent / "avflow")


def write_post(folder: Path, name: str, body: str = "Fresh bread today.", **front: Any) -> Path:
    """A post file ``name``.md with ``front`` as its front matter."""
    path = folder / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    path.write_text(f"---\n{head}---\n{body}\n")
    return path


def social_client(
    h: Harness,
    client: str = "bloom",
    tz: str = "Europe/Rome",
    accounts: dict[str, Any] | None = None,
    **profile: Any,
) -> Path:
    """A client with outbox channels ``news`` and ``blog`` and an empty ``posts/`` calendar."""
    accounts = accounts or {
        "news": {"type": "social_outbox", "folder": "outbox/news", "max_chars": 280},
        "blog": {"type": "social_outbox", "folder": "outbox/blog"},
    }
    h.client(client, {"name": client.title(), "timezone": tz, "accounts": accounts, **profile})
    h.workflow(client, "publish", {"steps": [{"id": "publish", "uses": "social.publish"}]})
    posts = h.workflows / client / "posts"
    posts.mkdir(exist_ok=True)
    return posts


def avflow_cli(h: Harness, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"}
    env.update(kw.pop("env", {}))
    return subprocess.run(
        [AVFLOW, "--workflows", str(h.workflows), "--home", str(h.home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,
    )
