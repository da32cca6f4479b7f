"""The monthly HTML activity report, rendered by a real headless Chromium and checked against the records."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from avflow.testing import Harness

ROME = ZoneInfo("Europe/Rome")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (Debian package: chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def render(html: Path, tmp_path: Path) -> str:
    """The DOM Chromium builds from the report (and a screenshot beside it, for people)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", "--window-size=1100,1600", html.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000  # something was painted
    return dom.stdout


class Report(HTMLParser):
    """What a reader sees: the summary rows' figures and the effect rows' cells."""

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict[str, dict[str, Any]] = {}
        self.effects: list[dict[str, str]] = []
        self.texts: dict[str, str] = {}
        self._row: dict[str, Any] | None = None
        self._cell: str | None = None
        self._buf: list[str] = []
        self._table: str | None = None
        self._open: list[tuple[str, str, list[str]]] = []  # elements with an id: (id, tag, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        elif tag == "tr" and self._table == "summary" and "data-workflow" in a:
            self._row = self.summary.setdefault(
                str(a["data-workflow"]), {"kinds": {}, "kind_attrs": {}}
            )
        elif tag == "tr" and self._table == "effects" and "data-seq" in a:
            self._row = {"seq": a["data-seq"], "cells": []}
            self.effects.append(self._row)
        elif tag in ("td", "li") and self._row is not None:
            self._cell, self._buf = tag, []
            if tag == "li" and "data-kind" in a:
                self._row["kind_attrs"][a["data-kind"]] = int(str(a["data-count"]))
            self._field = a.get("data-field")
        if a.get("id") in ("month", "first-seq", "last-seq", "verification", "no-effects"):
            self._open.append((str(a["id"]), tag, []))

    def handle_data(self, data: str) -> None:
        self._buf.append(data)
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = " ".join("".join(self._buf).split())
        if tag in ("td", "li") and self._row is not None and self._cell == tag:
            if self._table == "effects":
                self._row["cells"].append(text)
            elif tag == "li" and ":" in text:
                kind, n = text.rsplit(":", 1)
                self._row["kinds"][kind.strip()] = int(n)
            elif tag == "td" and self._field:
                self._row[self._field] = int(text)
            self._cell = None
        elif tag == "tr":
            self._row = None
        if self._open and self._open[-1][1] == tag:
            ident, _, parts = self._open.pop()
            self.texts[ident] = " ".join("".join(parts).split())


def expected(
    records: list[dict[str, Any]], month: str
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, ...]]]:
    """The figures computed straight from the records, independently of avflow's report code."""
    dry = {r["run"] for r in records if r["event"] == "run.started" and r["details"]["dry_run"]}
    summary: dict[str, dict[str, Any]] = {}
    rows = []
    for r in records:
        local = datetime.fromisoformat(r["time"].replace("Z", "+00:00")).astimezone(ROME)
        if local.strftime("%Y-%m") != month or r["run"] in dry or not r["workflow"]:
            continue
        s = summary.setdefault(
            r["workflow"],
            {"runs": 0, "succeeded": 0, "failed": 0, "skipped": 0, "gated": 0, "kinds": Counter()},
        )
        if r["event"] == "run.finished":
            s["runs"] += 1
            s["succeeded" if r["details"]["status"] == "succeeded" else "failed"] += 1
        elif r["event"] == "effect.done":
            s["kinds"][r["details"]["kind"]] += 1
        elif r["event"] == "effect.failed":
            s["kinds"]["failed"] += 1
        if r["event"] in ("effect.done", "effect.failed"):
            rows.append(
                (
                    str(r["seq"]),
                    local.strftime("%Y-%m-%d %H:%M"),
                    r["details"]["kind"],
                    r["description"],
                    "done" if r["event"] == "effect.done" else "failed",
                )
            )
    return summary, rows


@pytest.fixture
def activity(audit_harness: Harness) -> Harness:
    h = audit_harness
    h.client("acme", name="Acme S.r.l.", timezone="Europe/Rome")
    h.workflow(
        "acme",
        "inbox",
        {
            "name": "Inbox triage",
            "steps": [
                {
                    "id": "triage",
                    "uses": "demo.mail",
                    "with": {"count": 3, "reply": True, "fail_at": 2},
                }
            ],
        },
    )
    h.workflow(
        "acme",
        "check",
        {"name": "Weekly check", "steps": [{"uses": "core.fail", "with": {"message": "no"}}]},
    )
    for when in (
        "2026-01-05T08:00:00+00:00",
        "2026-01-08T08:00:00+00:00",
        "2026-01-12T16:45:00+00:00",
    ):
        h.clock.set(when)
        assert h.run("acme/inbox").ok
    assert h.run("acme/check").status == "failed"
    assert h.run("acme/inbox", dry_run=True).ok  # not counted
    h.clock.set("2026-01-31T22:30:00+00:00")  # 23:30 in Rome: January
    assert h.run("acme/inbox").ok
    h.clock.set("2026-01-31T23:30:00+00:00")  # 00:30 on 1 February in Rome
    assert h.run("acme/inbox").ok
    return h


@pytest.mark.parametrize("month", ["2026-01", "2026-02"])
def test_report_in_chromium_shows_the_figures_of_the_records(
    activity: Harness, cli: Callable[..., Any], tmp_path: Path, month: str
) -> None:
    out = tmp_path / f"acme-{month}.html"
    result = cli("audit", "report", "acme", "--month", month, "-o", str(out))
    assert result.code == 0, result.out + result.err
    bundle = tmp_path / f"acme-audit-{month}.zip"
    assert bundle.exists()
    html = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # self-contained

    page = Report()
    page.feed(render(out, tmp_path))
    want, rows = expected(activity.audit("acme"), month)
    assert page.texts["month"] == datetime.strptime(month, "%Y-%m").strftime("%B %Y")
    assert "The audit trail verifies" in page.texts["verification"]
    shown = {wf: row for wf, row in page.summary.items() if wf != "*"}
    assert set(shown) == set(want)
    for wf, figures in want.items():
        row = shown[wf]
        for key in ("runs", "succeeded", "failed", "skipped", "gated"):
            assert row[key] == figures[key], (wf, key)
        assert row["kinds"] == dict(figures["kinds"]) == row["kind_attrs"], wf
    total = page.summary["*"]
    for key in ("runs", "succeeded", "failed"):
        assert total[key] == sum(f[key] for f in want.values())
    assert [(e["seq"], *e["cells"][:1], *e["cells"][2:4]) for e in page.effects] == [
        r[:4] for r in rows
    ]
    assert [e["cells"][4].split(" ")[0] for e in page.effects] == [r[4] for r in rows]

    if month == "2026-01":
        assert (
            want["inbox"]["runs"] == 4 and want["check"]["failed"] == 1
        )  # the dry run is not counted
        assert page.effects[-1]["cells"][0] == "2026-01-31 23:30"
    else:
        assert want["inbox"]["runs"] == 1 and page.effects[0]["cells"][0] == "2026-02-01 00:30"


def test_report_errors_a_user_can_make(activity: Harness, cli: Callable[..., Any]) -> None:
    bad = cli("audit", "report", "acme", "--month", "January")
    assert bad.code == 2 and "--month 'January': expected a month as YYYY-MM" in bad.err
    gone = cli("audit", "report", "nobody", "--month", "2026-01")
    assert gone.code == 2 and "no audit trail for client 'nobody'" in gone.err


def test_report_on_a_trail_that_does_not_verify_says_so_and_exits_1(
    activity: Harness, cli: Callable[..., Any], tmp_path: Path
) -> None:
    path = activity.home / "audit" / "acme" / "2026-01.jsonl"
    path.write_bytes(path.read_bytes().replace(b"Fattura 003", b"Fattura 333", 1))
    out = tmp_path / "report.html"
    result = cli("audit", "report", "acme", "--month", "2026-01", "-o", str(out), "--no-bundle")
    assert result.code == 1 and "the trail does not verify" in result.err
    page = Report()
    page.feed(out.read_text())
    assert page.texts["verification"].startswith("The audit trail does NOT verify: 2026-01.jsonl:")
    assert "was edited" in page.texts["verification"]
    assert not (tmp_path / "acme-audit-2026-01.zip").exists()
