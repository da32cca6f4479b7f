"""Helpers of the approvals tests, imported by name (``from approvals_testkit import ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avflow import approvals
from avflow.testing import Harness

WORKING = {"mon-fri": "09:00-18:00"}


def setup_post(h: Harness, tmp_path: Path, client: str = "acme", **approval: Any) -> Path:
    """A workflow: prepare, ask for approval, then write two files (one effect each)."""
    out = tmp_path / f"out-{client}"
    h.client(client, name=client.title(), timezone="Europe/Rome", working_hours=WORKING)
    h.workflow(
        client,
        "post",
        {
            "steps": [
                {"id": "draft", "uses": "core.set", "with": {"values": {"title": "Winter sale"}}},
                {
                    "id": "check",
                    "uses": "core.approval",
                    "with": {"summary": "Publish '{{ steps.draft.outputs.title }}'?", **approval},
                },
                {
                    "id": "publish",
                    "uses": "crashy.write",
                    "with": {"folder": str(out), "count": 2, "prefix": "post"},
                },
            ]
        },
    )
    return out


def performed(out: Path) -> list[str]:
    log = out / "performed.log"
    return log.read_text().split() if log.exists() else []


def the_only_pending(h: Harness, client: str | None = None) -> approvals.Approval:
    waiting = approvals.pending(h.app, client)
    assert len(waiting) == 1, waiting
    return waiting[0]
