"""The public working-time API plugins use (`avflow.is_holiday`, `avflow.is_working_time`, ...):
the same answers as the scheduler's gating, and only the client's own `holidays` country loaded,
in the plugins that use it too."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import avflow
from avflow.models import ClientProfile
from avflow.scheduler.gating import Gate

REPO = Path(__file__).resolve().parents[1]
NEW_YORK = ZoneInfo("America/New_York")


def client(**kw: Any) -> avflow.ClientInfo:
    hours = {d: ((time(9), time(12)), (time(13), time(17))) for d in range(5)}
    kw.setdefault("working_hours", hours)
    return avflow.ClientInfo("acme", "Acme", "America/New_York", NEW_YORK, **kw)


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def test_holidays_and_closed_days() -> None:
    c = client(holidays=("US", "CA"), closed=((date(2026, 12, 24), date(2026, 12, 31)),))
    assert avflow.holiday_name(c, date(2026, 7, 3)) == "Independence Day (observed)"
    assert avflow.is_holiday(c, date(2026, 3, 31))  # Cesar Chavez Day: California only
    assert not avflow.is_holiday(client(holidays=("US", None)), date(2026, 3, 31))
    assert avflow.holiday_name(c, date(2026, 7, 7)) is None
    assert avflow.is_closed_day(c, date(2026, 12, 28)) and not avflow.is_holiday(
        c, date(2026, 12, 28)
    )
    assert avflow.is_closed_day(c, date(2026, 7, 3)) and not avflow.is_closed_day(
        c, date(2026, 7, 6)
    )
    assert avflow.holiday_name(client(), date(2026, 7, 3)) is None  # no holidays: country


def test_working_time_and_the_next_opening() -> None:
    c = client(holidays=("US", None))
    assert avflow.is_working_time(c, ny("2026-07-02 09:00"))  # start included
    assert not avflow.is_working_time(c, ny("2026-07-02 12:00"))  # end excluded: lunch
    assert avflow.next_working_time(c, ny("2026-07-02 12:30")) == ny("2026-07-02 13:00")
    at = ny("2026-07-02 10:15")
    assert avflow.next_working_time(c, at) == at
    # Thursday after hours -> Friday is the observed Independence Day -> Monday 09:00
    assert avflow.next_working_time(c, ny("2026-07-02 18:30")) == ny("2026-07-06 09:00")
    assert avflow.next_working_time(c, ny("2026-07-02 18:30")).tzinfo == UTC  # type: ignore[union-attr]
    always = client(working_hours={})
    assert avflow.is_working_time(always, ny("2026-07-04 03:00"))
    never = client(closed=((date(2020, 1, 1), date(2040, 1, 1)),))
    assert avflow.next_working_time(never, ny("2026-07-02 10:00")) is None


def test_a_range_starting_in_a_dst_gap_opens_right_after_the_gap() -> None:
    """Hours 02:30-04:00 on the night New York skips 02:00-03:00: open from 03:00 EDT, as the
    scheduler's gating judges it (the wall clock reads 03:00, past 02:30)."""
    c = client(working_hours={6: ((time(2, 30), time(4)),)})
    opens = avflow.next_working_time(c, ny("2026-03-08 00:00"))
    assert opens == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    profile = ClientProfile(
        name="Acme", timezone="America/New_York", working_hours={"sun": "02:30-04:00"}
    )
    gate = Gate(profile)
    assert gate.reason(opens) is None
    assert gate.reason(datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)) is not None  # 01:59:59 EST
    assert avflow.is_working_time(c, opens)


def test_each_answer_matches_the_gating_of_a_real_profile() -> None:
    profile = ClientProfile(
        name="Acme",
        timezone="America/New_York",
        working_hours={"mon-fri": "09:00-12:00,13:00-17:00", "sat": "10:00-24:00"},
        holidays="US-NY",
        closed=["12-24/12-31"],
    )
    from avflow.project import Client

    info = Client("acme", REPO, profile).info()
    gate = Gate(profile)
    t = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    for _ in range(24 * 4 * 45):  # every quarter hour for 45 days, Thanksgiving and Christmas
        assert avflow.is_working_time(info, t) == (gate.reason(t) is None), t
        t += timedelta(minutes=15)


PROBE = """
import sys
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
import avflow
from avflow_calendar.slots import Rules
from avflow_social.hours import next_open
tz = ZoneInfo("Europe/Rome")
hours = {d: ((time(9), time(18)),) for d in range(5)}
c = avflow.ClientInfo("a", "A", "Europe/Rome", tz, working_hours=hours, holidays=("IT", None))
at = datetime(2026, 12, 24, 18, 30, tzinfo=tz)
print(next_open(c, at).isoformat())
rules = Rules(tz=tz, hours=hours, duration=timedelta(hours=1), holidays_of=c)
print(rules.day_closed(at.date().replace(day=25)), rules.day_closed(at.date()))
print("holidays.countries" in sys.modules, "holidays.countries.italy" in sys.modules)
"""


def test_the_plugins_ask_avflow_and_load_only_the_clients_country() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == [
        "2026-12-28T08:00:00+00:00",  # Christmas and St Stephen's Day, then the weekend
        "True False",
        "False True",  # only Italy's calendar, not the package's ~250 countries
    ]


def test_no_plugin_imports_the_holidays_package() -> None:
    for plugin in ("avflow-calendar", "avflow-social"):
        for path in (REPO / "plugins" / plugin / "src").rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "import holidays" not in text and "from holidays" not in text, path


def test_local_to_utc_reads_gaps_and_repeated_hours_as_gating_does() -> None:
    rome = ZoneInfo("Europe/Rome")
    # 02:30 does not exist on 29 March 2026 in Rome: the first instant after the gap (01:00 UTC)
    assert avflow.local_to_utc(datetime(2026, 3, 29, 2, 30), rome) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # 02:30 happens twice on 25 October 2026: its first occurrence, still on summer time
    assert avflow.local_to_utc(datetime(2026, 10, 25, 2, 30), rome) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert avflow.local_to_utc(datetime(2026, 12, 2, 9, 0), rome) == datetime(
        2026, 12, 2, 8, 0, tzinfo=UTC
    )
