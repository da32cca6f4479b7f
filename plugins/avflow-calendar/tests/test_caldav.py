"""``type: caldav`` against a real Radicale: recurring busy time, bookings, requests made."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from calhelp import caldav_client
from radicale_server import Proxy, event_uids, request
from test_slots_dst import ROME_BUSY, ROME_HOURS


def upload(port: int, url: str, calendar_text: str) -> None:
    """Each UID of ``calendar_text`` as one resource (a series with its overrides together)."""
    head, _, rest = calendar_text.partition("BEGIN:VEVENT")
    events = re.findall(r"BEGIN:VEVENT.*?END:VEVENT\r\n", "BEGIN:VEVENT" + rest, re.S)
    by_uid: dict[str, list[str]] = {}
    for ev in events:
        uid = re.search(r"UID:([^\r\n]+)", ev)
        assert uid is not None
        by_uid.setdefault(uid.group(1), []).append(ev)
    for uid, parts in by_uid.items():
        body = head + "".join(parts) + "END:VCALENDAR\r\n"
        path = urlsplit(url).path + uid.replace("@", "-") + ".ics"
        status, _ = request(port, "PUT", path, body.encode())
        assert status == 201, status


def test_free_slots_and_booking_on_caldav(avflow_harness, radicale) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    url = radicale.new_calendar()
    upload(radicale.port, url, ROME_BUSY)
    proxy = Proxy(radicale.port)
    proxied = url.replace(f":{radicale.port}/", f":{proxy.port}/")
    caldav_client(h, "acme", "Europe/Rome", {"cal": proxied}, working_hours=ROME_HOURS)
    h.clock.set("2026-03-27T07:00:00+00:00")
    h.workflow(
        "acme",
        "slots",
        {
            "steps": [
                {
                    "id": "find",
                    "uses": "calendar.free_slots",
                    "with": {
                        "account": "cal",
                        "duration_minutes": 60,
                        "step_minutes": 60,
                        "count": 9,
                        "days": 5,
                    },
                }
            ]
        },
    )
    result = h.run("acme/slots")
    assert result.status == "succeeded", result.error
    starts = [s["start"] for s in result.outputs["find"]["slots"]]
    assert starts == [
        *(f"2026-03-27T{x}:00:00+01:00" for x in ("10", "11", "12", "14", "16", "17")),
        "2026-03-30T10:00:00+02:00",
        "2026-03-30T11:00:00+02:00",
        "2026-03-30T12:00:00+02:00",
    ]
    assert proxy.requests == ["REPORT"]  # one busy-time query for the calendar
    proxy.requests.clear()
    h.workflow(
        "acme",
        "book",
        {
            "steps": [
                {
                    "id": "b",
                    "uses": "calendar.book",
                    "with": {
                        "account": "cal",
                        "start": starts[0],
                        "duration_minutes": 60,
                        "title": "Call",
                        "attendees": ["anna@example.com"],
                    },
                }
            ]
        },
    )
    booked = h.run("acme/book")
    assert booked.status == "succeeded", booked.error
    assert proxy.requests == ["REPORT", "PUT"]  # the re-check, the creation
    uids = event_uids(radicale.port, urlsplit(url).path)
    assert (
        booked.outputs["b"]["uid"] in uids and len(uids) == 7
    )  # 6 uploaded (a series with its override) + it
    # The slot is now busy: the next search starts at 11:00.
    again = h.run("acme/slots")
    assert again.outputs["find"]["slots"][0]["start"] == "2026-03-27T11:00:00+01:00"
    # Booking the same slot again from another run: a clear conflict, nothing created.
    proxy.requests.clear()
    clash = h.run("acme/book")
    assert clash.status == "failed" and "booked by another run" in (clash.error or "")
    assert "PUT" not in proxy.requests
    assert len(event_uids(radicale.port, urlsplit(url).path)) == 7
    proxy.stop()


def test_wrong_password_or_server_down_is_one_line(avflow_harness, radicale) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    from radicale_server import free_port

    caldav_client(h, "acme", "Europe/Rome", {"cal": f"http://127.0.0.1:{free_port()}/av/x/"})
    h.workflow(
        "acme",
        "slots",
        {
            "steps": [
                {
                    "id": "find",
                    "uses": "calendar.free_slots",
                    "with": {"account": "cal", "duration_minutes": 30},
                }
            ]
        },
    )
    result = h.run("acme/slots")
    assert result.status == "failed"
    assert "calendar 'cal'" in (result.error or "") and "\n" not in (result.error or "")
