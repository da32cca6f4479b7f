"""``calendar.hold``, ``confirm``, ``release_holds`` and ``reschedule`` on all three backends: a
local .ics file, a real Radicale, and the Google stand-in through google-api-python-client."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import icalendar
import pytest
from calhelp import caldav_client, calendar_client, ics
from test_google import setup as google_setup

from avflow.testing import SimulatedCrash

BUSY = ics(
    """UID:dentist@test
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260310T100000
DTEND;TZID=Europe/Rome:20260310T110000
SUMMARY:Dentist"""
)
HOURS = {"mon-fri": "09:00-13:00"}


class Calendar:
    """The events of the test's calendar, read straight from the backend: uid -> (status,
    start in UTC as text, hold deadline or '')."""

    def __init__(self, kind: str, h: Any, radicale: Any = None, google: Any = None) -> None:
        self.kind, self.h, self.google, self.url = kind, h, google, ""
        if kind == "ics":
            calendar_client(h, "acme", "Europe/Rome", {"cal": BUSY}, working_hours=HOURS)
        elif kind == "caldav":
            self.url = radicale.new_calendar()
            caldav_client(h, "acme", "Europe/Rome", {"cal": self.url}, working_hours=HOURS)
            self._put_busy()
        else:
            google_setup(h, google)
            google.calendars["primary"].clear()
            google.put(
                "primary",
                {
                    "id": "dentist",
                    "start": {"dateTime": "2026-03-10T10:00:00+01:00"},
                    "end": {"dateTime": "2026-03-10T11:00:00+01:00"},
                    "summary": "Dentist",
                },
            )
        h.clock.set("2026-03-09T08:30:00+00:00")  # Monday 09:30 in Rome

    def _put_busy(self) -> None:
        from caldav.davclient import DAVClient

        DAVClient(url=self.url, username="av", password="x").calendar(url=self.url).save_event(BUSY)

    def events(self) -> dict[str, tuple[str, str, str]]:
        if self.kind == "google":
            return {
                e["id"]: (
                    e.get("status", "confirmed").upper(),
                    e["start"]["dateTime"],
                    e.get("extendedProperties", {}).get("private", {}).get("avflowHoldUntil", ""),
                )
                for e in self.google.calendars["primary"].values()
                if e.get("status") != "cancelled" and e["id"] != "dentist"
            }
        comps: list[Any] = []
        if self.kind == "ics":
            path = self.h.workflows / "acme" / "cal.ics"
            comps = list(icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"))
        else:
            from caldav.davclient import DAVClient

            cal = DAVClient(url=self.url, username="av", password="x").calendar(url=self.url)
            comps = [e.icalendar_component for e in cal.events()]
        return {
            str(c["UID"]).removeprefix("avflow-"): (
                str(c.get("STATUS", "")),
                c["DTSTART"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                str(c.get("X-AVFLOW-HOLD-UNTIL", "")),
            )
            for c in comps
            if str(c["UID"]) != "dentist@test"
        }


@pytest.fixture(params=["ics", "caldav", "google"])
def cal(request: Any, avflow_harness: Any) -> Iterator[Calendar]:
    kind = request.param
    if kind == "caldav":
        yield Calendar(kind, avflow_harness, radicale=request.getfixturevalue("radicale"))
    elif kind == "google":
        yield Calendar(kind, avflow_harness, google=request.getfixturevalue("google"))
    else:
        yield Calendar(kind, avflow_harness)


def step(h: Any, name: str, uses: str, **with_: Any) -> str:
    h.workflow("acme", name, {"steps": [{"id": "s", "uses": uses, "with": with_}]})
    return f"acme/{name}"


def run(h: Any, ref: str) -> dict[str, Any]:
    result = h.run(ref)
    assert result.status == "succeeded", result.error
    return dict(result.outputs["s"])


def propose(h: Any) -> None:
    """Two requests, three held slots each, from a free-slots search (as the demo does)."""
    h.workflow(
        "acme",
        "propose",
        {
            "steps": [
                {
                    "id": "slots",
                    "uses": "calendar.free_slots",
                    "with": {
                        "account": "cal",
                        "duration_minutes": 60,
                        "step_minutes": 60,
                        "count": 6,
                    },
                },
                {
                    "id": "s",
                    "uses": "calendar.hold",
                    "with": {
                        "account": "cal",
                        "slots": "{{ steps.slots.outputs.slots }}",
                        "duration_minutes": 60,
                        "requests": ["<a@mail>", "<b@mail>"],
                        "hold_minutes": 120,
                        "title": "Proposed",
                    },
                },
            ]
        },
    )


def starts(h: Any) -> list[str]:
    out = run(h, step(h, "slots", "calendar.free_slots", account="cal", duration_minutes=60,
                      step_minutes=60, count=4))  # fmt: skip
    return [s["start"][8:16] for s in out["slots"]]


def test_hold_confirm_release(cal: Calendar) -> None:
    h = cal.h
    assert starts(h) == ["09T10:00", "09T11:00", "09T12:00", "10T09:00"]
    propose(h)
    held = run(h, "acme/propose")
    a, b = held["groups"]["<a@mail>"], held["groups"]["<b@mail>"]
    assert [s["start"][8:16] for s in a] == ["09T10:00", "09T11:00", "09T12:00"]
    assert [s["start"][8:16] for s in b] == ["10T09:00", "10T11:00", "10T12:00"]  # 10-11 busy
    assert a[0]["hold_until"] == "2026-03-09T10:00:00+01:00"  # the slot's start comes first
    assert b[0]["hold_until"] == "2026-03-09T11:30:00+01:00"  # two hours after the hold
    events = cal.events()
    assert len(events) == 6 and {s for s, _, _ in events.values()} == {"TENTATIVE"}
    assert starts(h)[0] == "11T09:00"  # every free hour of Monday and Tuesday is held
    # The first request chose its second slot: confirmed; its other two holds are released.
    chosen = a[1]["uid"]
    done = run(h, step(h, "confirm", "calendar.confirm", account="cal", uid=chosen,
                       attendees=["anna@example.com"], title="Consulenza"))  # fmt: skip
    assert done["status"] == "confirmed" and done["title"] == "Consulenza"
    assert sorted(done["released"]) == sorted([a[0]["uid"], a[2]["uid"]])
    events = cal.events()
    key = chosen.removeprefix("avflow-")
    assert events[key][0] == "CONFIRMED" and events[key][2] == ""
    assert len(events) == 4  # the chosen one and request b's three holds
    again = run(h, "acme/confirm")  # confirming again: it is confirmed, nothing changes
    assert again["status"] == "confirmed" and again["released"] == [] and len(cal.events()) == 4
    # Two hours later b's holds have expired: they are free at once, and released once.
    h.clock.advance(minutes=121)
    assert starts(h) == ["09T12:00", "10T09:00", "10T11:00", "10T12:00"]
    assert len(cal.events()) == 1
    released = [r for r in h.audit("acme") if r.get("event") == "effect.done"
                and str(r.get("effect", "")).startswith("release:")]  # fmt: skip
    assert len(released) == 5  # two siblings, three expired: each once
    late = h.run(step(h, "confirm", "calendar.confirm", account="cal", uid=b[0]["uid"]))
    assert late.status == "failed" and "released" in (late.error or "")
    sweep = run(h, step(h, "sweep", "calendar.release_holds", account="cal"))
    assert sweep["released"] == [] and len(cal.events()) == 1


def test_a_held_slot_cannot_be_booked_by_another_request(cal: Calendar) -> None:
    h = cal.h
    propose(h)
    held = run(h, "acme/propose")
    first = held["groups"]["<a@mail>"][0]
    booked = h.run(step(h, "book", "calendar.book", account="cal", start=first["start"][:16],
                        duration_minutes=60, title="Other"))  # fmt: skip
    assert booked.status == "failed" and "held for another request" in (booked.error or "")
    later = held["groups"]["<b@mail>"][2]
    h.clock.set("2026-03-09T10:30:00+00:00")  # b's holds expired at 11:30 Rome
    ok = h.run(step(h, "book", "calendar.book", account="cal", start=later["start"][:16],
                    duration_minutes=60, title="Other"))  # fmt: skip
    assert ok.status == "succeeded", ok.error
    assert cal.events()[later["uid"].removeprefix("avflow-")][0] == "CONFIRMED"


def test_reschedule(cal: Calendar) -> None:
    h = cal.h
    booked = run(h, step(h, "book", "calendar.book", account="cal", start="2026-03-10T09:00",
                         duration_minutes=45, title="Intro", attendees=["anna@example.com"]))  # fmt: skip
    ref = step(h, "move", "calendar.reschedule", account="cal", uid=booked["uid"],
               start="2026-03-10T12:00")  # fmt: skip
    moved = run(h, ref)
    assert moved["status"] == "rescheduled" and moved["previous_uid"] == booked["uid"]
    assert moved["start"] == "2026-03-10T11:00:00+00:00" and moved["end"][11:16] == "11:45"
    events = cal.events()
    assert list(events) == [moved["uid"].removeprefix("avflow-")]
    assert run(h, ref)["uid"] == moved["uid"]  # a second run: the same event, nothing new
    assert len(cal.events()) == 1
    clash = h.run(step(h, "clash", "calendar.reschedule", account="cal", uid=moved["uid"],
                       start="2026-03-10T10:30"))  # fmt: skip
    assert clash.status == "failed"
    assert "conflict: cannot move" in (clash.error or "") and "10:00-11:00" in (clash.error or "")
    assert len(cal.events()) == 1  # the booking stays where it was
    # Moving by half an hour overlaps the booking itself: that is no conflict.
    half = run(h, step(h, "half", "calendar.reschedule", account="cal", uid=moved["uid"],
                       start="2026-03-10T12:15"))  # fmt: skip
    assert half["start"] == "2026-03-10T11:15:00+00:00" and len(cal.events()) == 1


def test_reschedule_killed_after_the_new_event_exists(cal: Calendar) -> None:
    h = cal.h
    booked = run(h, step(h, "book", "calendar.book", account="cal", start="2026-03-10T09:00",
                         duration_minutes=60, title="Intro"))  # fmt: skip
    ref = step(h, "move", "calendar.reschedule", account="cal", uid=booked["uid"],
               start="2026-03-10T11:00")  # fmt: skip
    h.crash_at(1, "after")  # performed (new event made, old deleted), outcome not recorded
    with contextlib.suppress(SimulatedCrash):
        h.run(ref)
    resumed = h.resume()
    assert [r.status for r in resumed] == ["succeeded"]
    assert list(cal.events().values()) == [("CONFIRMED", "2026-03-10T10:00:00Z", "")]


def test_hold_killed_after_the_holds_exist(cal: Calendar) -> None:
    """Killed after the holds were made but before the ledger knew: the resumed run finds the
    same holds (same UIDs, same token) and makes none twice; a dry run holds nothing."""
    h = cal.h
    propose(h)
    dry = h.run("acme/propose", dry_run=True)
    assert dry.status == "succeeded" and dry.outputs["s"]["status"] == "would_hold"
    assert cal.events() == {}
    h.crash_at(1, "after")
    with contextlib.suppress(SimulatedCrash):
        h.run("acme/propose")
    assert len(cal.events()) == 3  # the first group was made, its outcome lost
    resumed = h.resume()
    assert [r.status for r in resumed] == ["succeeded"], resumed[0].error
    events = cal.events()
    assert len(events) == 6 and {s for s, _, _ in events.values()} == {"TENTATIVE"}
    assert resumed[0].outputs["s"]["count"] == 6


def test_more_requests_than_slots(avflow_harness: Any) -> None:
    """The third request finds no slot left: an empty group, and no effect recorded for it, so
    a later run still holds slots for it."""
    cal = Calendar("ics", avflow_harness)
    h = cal.h
    ref = step(h, "few", "calendar.hold", account="cal", duration_minutes=60, each=2,
               slots=["2026-03-10T09:00", "2026-03-10T11:00", "2026-03-10T12:00"],
               requests=["<a@mail>", "<b@mail>", "<c@mail>"])  # fmt: skip
    out = run(h, ref)
    assert [len(out["groups"][k]) for k in ("<a@mail>", "<b@mail>", "<c@mail>")] == [2, 1, 0]
    assert len(cal.events()) == 3
    later = step(h, "later", "calendar.hold", account="cal", duration_minutes=60,
                 slots=["2026-03-11T09:00"], requests=["<c@mail>"])  # fmt: skip
    assert run(h, later)["count"] == 1 and len(cal.events()) == 4
