"""client.yaml: closed dates that come back every year, and the client's language."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from avflow.loader import Loader
from avflow.models import closed_ranges
from avflow.plugins import PluginManager
from avflow.scheduler.planner import job_for

PROFILE = """name: Acme
timezone: Europe/Rome
language: it
closed: ["12-24/01-06", "08-15", "02-29", "2026-04-20/2026-04-21"]
"""
WORKFLOW = """on:
  schedule: [{cron: "0 10 * * *"}]
  when: working_hours
steps: [{uses: core.log, with: {message: hi}}]
"""


@pytest.fixture
def loaded(tmp_path: Path) -> object:
    folder = tmp_path / "workflows" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(PROFILE)
    (folder / "w.yaml").write_text(WORKFLOW)
    project, errors = Loader(PluginManager(autoload=False).registry).load(tmp_path / "workflows")
    assert not errors
    return project.clients["acme"]


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2026-12-24", "closed (12-24 to 01-06 every year)"),
        ("2027-01-06", "closed (12-24 to 01-06 every year)"),  # the range runs into January
        ("2031-12-31", "closed (12-24 to 01-06 every year)"),  # any year
        ("2028-08-15", "closed (08-15 every year)"),
        ("2028-02-29", "closed (02-29 every year)"),
        ("2026-04-20", "closed (2026-04-20 to 2026-04-21)"),
        ("2027-04-20", None),  # the dated range does not come back
        ("2027-01-07", None),
        ("2027-12-23", None),
    ],
)
def test_yearly_closed_dates_gate_every_year(loaded: object, day: str, reason: str) -> None:
    job = job_for(loaded, loaded.workflows["w"])  # type: ignore[attr-defined]
    assert job is not None and job.gate is not None
    assert job.gate.reason(datetime.fromisoformat(f"{day}T10:00:00+01:00")) == reason


def test_plugins_see_yearly_dates_as_ranges_and_the_language(loaded: object) -> None:
    info = loaded.info()  # type: ignore[attr-defined]
    assert info.language == "it"
    this = date.today().year
    assert (date(this, 12, 24), date(this + 1, 1, 6)) in info.closed
    assert (date(this + 5, 8, 15), date(this + 5, 8, 15)) in info.closed


def test_a_leap_day_comes_back_only_in_leap_years() -> None:
    ranges = closed_ranges(["02-29", "02-20/02-29"], range(2027, 2029))
    assert sorted(ranges) == [
        (date(2027, 2, 20), date(2027, 2, 28)),
        (date(2028, 2, 20), date(2028, 2, 29)),
        (date(2028, 2, 29), date(2028, 2, 29)),
    ]
