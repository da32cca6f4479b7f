"""``calendar.agenda``: a day's and a week's appointments, in the client's local time."""

from __future__ import annotations

from calhelp import calendar_client
from test_slots_dst import ROME_BUSY


def agenda(h, **with_):  # type: ignore[no-untyped-def]
    h.workflow(
        "acme",
        "agenda",
        {"steps": [{"id": "a", "uses": "calendar.agenda", "with": {"account": "cal", **with_}}]},
    )
    result = h.run("acme/agenda")
    assert result.status == "succeeded", result.error
    return result.outputs["a"]


def test_day_and_week(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(h, "acme", "Europe/Rome", {"cal": ROME_BUSY})
    h.clock.set("2026-03-29T20:00:00+00:00")  # Sunday 22:00 in Rome, summer time since 03:00
    monday = agenda(h, days_ahead=1)
    assert monday["from"] == monday["to"] == "2026-03-30"
    # The cancelled meeting is left out; the New York call is at 16:00 Rome time now.
    assert [(e["time"], e["title"]) for e in monday["events"]] == [
        ("09:00-10:00", "Stand-up"),
        ("16:00-17:00", "Call with New York"),
    ]
    assert monday["events"][0]["start"] == "2026-03-30T09:00:00+02:00"
    assert monday["text"].splitlines() == [
        "Monday 30 March 2026",
        "  09:00-10:00  Stand-up",
        "  16:00-17:00  Call with New York",
    ]
    week = agenda(h, day="2026-03-30", period="week")
    titles = [(e["start"][:10], e["time"], e["title"]) for e in week["events"]]
    assert titles == [
        ("2026-03-30", "09:00-10:00", "Stand-up"),
        ("2026-03-30", "16:00-17:00", "Call with New York"),
        # Tue 31: the stand-up's EXDATE
        ("2026-04-01", "15:00-16:00", "Stand-up (moved)"),
        ("2026-04-02", "all day", "Trade fair"),
        ("2026-04-02", "09:00-10:00", "Stand-up"),
        ("2026-04-03", "09:00-10:00", "Stand-up"),
        ("2026-04-03", "16:00-17:00", "Call with New York"),
    ]
    assert week["to"] == "2026-04-05" and week["count"] == 7


def test_empty_day(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    calendar_client(h, "acme", "Europe/Rome", {"cal": ROME_BUSY})
    out = agenda(h, day="2026-03-28")  # a Saturday
    assert out["events"] == [] and out["text"] == "No appointments."
