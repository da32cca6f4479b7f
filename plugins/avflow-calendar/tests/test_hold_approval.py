"""``calendar.hold`` with ``approval:``: the AV confirms the three slots proposed to a patient
before they are held (and so before the reply that proposes them goes out)."""

from __future__ import annotations

import icalendar
from calhelp import calendar_client
from test_book import BUSY

REQUEST = "<req-1@example.com>"
SLOTS = ["2026-03-10T11:00", "2026-03-10T12:00", "2026-03-11T09:00"]


def setup(h, **with_) -> str:  # type: ignore[no-untyped-def]
    calendar_client(
        h, "acme", "Europe/Rome", {"cal": BUSY}, working_hours={"mon-fri": "09:00-13:00"}
    )
    h.clock.set("2026-03-09T08:30:00+00:00")  # Monday 09:30 in Rome
    params = {
        "account": "cal",
        "slots": SLOTS,
        "duration_minutes": 60,
        "requests": [REQUEST],
        "approval": {"summary": "Propose these three slots to Anna?"},
        **with_,
    }
    h.workflow("acme", "hold", {"steps": [{"id": "hold", "uses": "calendar.hold", "with": params}]})
    return "acme/hold"


def tentative(h) -> list[str]:  # type: ignore[no-untyped-def]
    cal = icalendar.Calendar.from_ical((h.workflows / "acme" / "cal.ics").read_bytes())
    return sorted(
        str(e["DTSTART"].dt.isoformat())
        for e in cal.walk("VEVENT")
        if e.get("STATUS") == "TENTATIVE"
    )


def test_the_av_confirms_the_three_slots_then_they_are_held(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h)
    assert h.run(ref).status == "waiting"
    assert tentative(h) == []
    [asked] = h.approvals("acme")
    assert asked.summary == "Propose these three slots to Anna?"
    assert asked.preview == [
        f"hold for {REQUEST}: Tue 10 Mar 2026, 11:00-12:00 CET; Tue 10 Mar 2026, 12:00-13:00 "
        "CET; Wed 11 Mar 2026, 09:00-10:00 CET in calendar cal",
        "each hold is released 48 h after it is made",
    ]
    done = h.decide(asked.id)
    assert done is not None and done.status == "succeeded", done and done.error
    assert done.outputs["hold"]["count"] == 3 and len(tentative(h)) == 3
    # a later run for the same request finds its holds: nobody is asked again
    again = h.run(ref)
    assert again.status == "succeeded" and h.approvals("acme") == []
    assert len(tentative(h)) == 3


def test_rejected_holds_nothing(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h, approval=True)
    assert h.run(ref).status == "waiting"
    [asked] = h.approvals("acme")
    assert asked.summary == "Hold 3 slot(s) in cal to propose them?"
    done = h.decide(asked.id, approve=False, reason="she wants afternoons")
    assert done is not None and done.status == "rejected"
    assert tentative(h) == []


def test_a_slot_taken_while_waiting_is_not_held(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    ref = setup(h)
    assert h.run(ref).status == "waiting"
    cal = h.workflows / "acme" / "cal.ics"
    taken = (
        "BEGIN:VEVENT\r\nUID:own@test\r\nDTSTAMP:20260301T000000Z\r\n"
        "DTSTART;TZID=Europe/Rome:20260310T120000\r\nDTEND;TZID=Europe/Rome:20260310T123000\r\n"
        "SUMMARY:Hairdresser\r\nEND:VEVENT\r\n"
    )
    cal.write_text(cal.read_text().replace("END:VCALENDAR", taken + "END:VCALENDAR"))
    [asked] = h.approvals("acme")
    done = h.decide(asked.id)
    assert done is not None and done.status == "succeeded", done and done.error
    assert tentative(h) == ["2026-03-10T10:00:00+00:00", "2026-03-11T08:00:00+00:00"]  # UTC
    assert len(done.outputs["hold"]["refused"]) == 1
    assert "12:00-13:00" in done.outputs["hold"]["refused"][0]
