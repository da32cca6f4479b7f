"""Pruning: explicit, refused for records younger than the retention, recorded, and still verifiable."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from avflow.audit import standalone
from avflow.testing import Harness

WORKFLOW = {
    "steps": [{"id": "triage", "uses": "demo.mail", "with": {"count": 1}}]
}  # 6 records a run


def months_ago(n: int) -> datetime:
    """The 10th of the month ``n`` months before the real current month, 09:00 UTC."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - n
    return datetime(index // 12, index % 12 + 1, 10, 9, tzinfo=UTC)


@pytest.fixture
def old_trail(audit_harness: Harness) -> Harness:
    """Records in four months three years back, then in the month before last (the CLI's clock is real)."""
    h = audit_harness
    h.client("acme", name="Acme", timezone="Europe/Rome")
    h.workflow("acme", "inbox", WORKFLOW)
    for n in (38, 37, 36, 35, 1):
        h.clock.set(months_ago(n))
        assert h.run("acme/inbox").ok
    return h


def month(n: int) -> str:
    return months_ago(n).strftime("%Y-%m")


def test_prune_refuses_records_younger_than_the_retention(
    old_trail: Harness, cli: Callable[..., Any]
) -> None:
    files_before = sorted(p.name for p in (old_trail.home / "audit" / "acme").iterdir())
    result = cli("audit", "prune", "acme", "--before", month(0), "--yes")
    assert result.code == 2
    assert f"refusing to prune {month(1)}.jsonl" in result.err
    assert "younger than the 2-year retention of client 'acme'" in result.err
    old_trail.client("acme", name="Acme", timezone="Europe/Rome", audit={"retention_years": 4})
    result = cli("audit", "prune", "acme", "--before", month(34), "--yes")
    assert result.code == 2 and "4-year retention" in result.err
    assert sorted(p.name for p in (old_trail.home / "audit" / "acme").iterdir()) == files_before
    bad = cli("audit", "prune", "acme", "--before", "2024-13")
    assert bad.code == 2 and "--before '2024-13': expected a month as YYYY-MM" in bad.err
    none = cli("audit", "prune", "acme", "--before", "1999-01")
    assert none.code == 2 and "nothing to prune" in none.err


def test_prune_is_explicit_recorded_and_the_trail_still_verifies(
    old_trail: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    h = old_trail
    directory = h.home / "audit" / "acme"
    dry = cli("audit", "prune", "acme", "--before", month(36), "--dry-run")
    assert dry.code == 0 and dry.out.startswith(
        f"would prune 12 records, seq 1..12, months {month(38)}, {month(37)}"
    )
    asked = cli("audit", "prune", "acme", "--before", month(36), input="n\n")
    assert asked.code == 1 and "aborted" in asked.err
    assert (directory / f"{month(38)}.jsonl").exists()

    done = cli("audit", "prune", "acme", "--before", month(36), "--yes")
    assert done.code == 0, done.err
    assert (
        not (directory / f"{month(38)}.jsonl").exists()
        and not (directory / f"{month(37)}.jsonl").exists()
    )
    records = h.audit("acme")
    assert records[0]["seq"] == 13
    pruned = records[-1]
    assert pruned["event"] == "audit.pruned" and pruned["seq"] == 31
    assert pruned["details"]["first_seq"] == 1 and pruned["details"]["last_seq"] == 12
    assert pruned["details"]["months"] == [month(38), month(37)]
    assert "pruned 12 audit records (seq 1..12" in pruned["description"]
    anchors = [
        json.loads(x)
        for x in (directory / "checkpoints.jsonl").read_text().splitlines()
        if json.loads(x)["kind"] == "anchor"
    ]
    assert [a["seq"] for a in anchors] == [12]

    ok = cli("audit", "verify", "acme")
    assert ok.code == 0, ok.out
    assert "19 records (seq 13..31)" in ok.out
    public = standalone.read_public_key(h.home / "keys" / "audit-ed25519.pub.pem")
    assert standalone.verify(directory, public, "acme")[0]

    # New runs go on from the same chain; deleting the new first month is still caught.
    h.reload()
    h.clock.set(datetime.now(UTC) - timedelta(days=1))
    assert h.run("acme/inbox").ok
    assert cli("audit", "verify", "acme").code == 0
    (directory / f"{month(36)}.jsonl").unlink()
    bad = cli("audit", "verify", "acme")
    assert bad.code == 1
    assert (
        "the trail starts at record seq 19: records 13..18 deleted (after the prune anchor at seq 12)"
        in bad.out
    )
    assert not standalone.verify(directory, public, "acme")[0]


def test_prune_refuses_a_trail_that_does_not_verify(
    old_trail: Harness, cli: Callable[..., Any]
) -> None:
    path = old_trail.home / "audit" / "acme" / f"{month(37)}.jsonl"
    path.write_bytes(path.read_bytes().replace(b"Fattura 001", b"Fattura 002"))
    result = cli("audit", "prune", "acme", "--before", month(36), "--yes")
    assert result.code == 1
    assert (
        "does not verify, nothing pruned" in result.err and "record seq 8 was edited" in result.err
    )
    assert (old_trail.home / "audit" / "acme" / f"{month(38)}.jsonl").exists()


def test_prune_needs_the_clients_profile(old_trail: Harness, cli: Callable[..., Any]) -> None:
    (old_trail.workflows / "acme" / "client.yaml").write_text("name: [unclosed\n")
    result = cli("audit", "prune", "acme", "--before", month(36), "--yes")
    assert result.code == 2 and "pruning needs its audit.retention_years" in result.err
