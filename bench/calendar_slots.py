"""Calendar benchmark: free slots over four weeks from three calendars holding 5,000 events.

Usage: .venv/bin/python bench/calendar_slots.py [--events 5000] [--series 200] [--trials 5]

Three .ics calendars are generated (a fixed seed) with ``--events`` events in all, ``--series``
of them recurring series (daily, weekly, every weekday; with EXDATEs and overridden instances,
in Europe/Rome, America/New_York and UTC), the rest single events spread over a year, some
all-day. The question: every free 30-minute slot, on a 15-minute grid, over the four weeks
from 2 March 2026 (Rome spring-forward inside), in working hours 09:00-13:00,14:00-18:00, with
15 minutes' buffer after each event.

Each trial, the two sides alternate (which goes first changes every trial), both from the bytes
of the three files:

- avflow: ``avflow_calendar``'s slot search, as a ``type: ics`` account does it: single events
  far from the window skipped before parsing (by the dates of their DTSTART/DTEND lines), those
  near it read directly, only series through recurring-ical-events, busy time merged once, each
  candidate checked by bisection.
- peer: the straightforward way: ``recurring_ical_events.of(calendar).between(...)`` on each
  parsed calendar, the occurrences as (start, end) intervals, and for each candidate slot a loop
  over all intervals.

Both must find the same slots. Then it counts the HTTP requests one ``calendar.book`` makes
against a private Radicale server holding three such calendars (``--radicale-events`` events in
all, 600 by default: Radicale stores a large upload slowly, and the count does not depend on the
size) (goal: one busy-time query per calendar, one create).

It prints the median wall time of each side and the ratio (goal: avflow at least 2x faster).
"""

from __future__ import annotations

import sys

# This file is named like the standard library's calendar module: keep its folder off the path.
sys.path[:] = [p for p in sys.path if p not in ("", __file__.rsplit("/", 1)[0])]

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "avflow-calendar" / "tests"))

ROME = ZoneInfo("Europe/Rome")
START = datetime(2026, 3, 2, tzinfo=ROME)
END = START + timedelta(weeks=4)
HOURS = {d: [("09:00", "13:00"), ("14:00", "18:00")] for d in range(5)}
DURATION, STEP, BUFFER = timedelta(minutes=30), timedelta(minutes=15), timedelta(minutes=15)
ZONES = ["Europe/Rome", "America/New_York", "UTC"]


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%S")


def _series(rng: random.Random, i: int) -> str:
    zone = rng.choice(ZONES)
    # A calendar's series accumulate: most have ended (COUNT), a few run on.
    first = datetime(2025, 3, 2) + timedelta(days=rng.randrange(380), hours=rng.randrange(7, 19))
    length = timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))
    rule = rng.choice(
        [
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            "FREQ=WEEKLY",
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "FREQ=WEEKLY;INTERVAL=2",
            "FREQ=MONTHLY",
        ]
    )
    if i % 10:
        rule += f";COUNT={rng.randrange(4, 40)}"
    lines = [
        f"UID:series-{i}@bench",
        "DTSTAMP:20250901T000000Z",
        f"DTSTART;TZID={zone}:{_stamp(first)}",
        f"DTEND;TZID={zone}:{_stamp(first + length)}",
        f"RRULE:{rule}",
        f"SUMMARY:Series {i}",
    ]
    skip = first + timedelta(days=7 * rng.randrange(1, 8))
    lines.append(f"EXDATE;TZID={zone}:{_stamp(skip)}")
    out = "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
    if i % 3 == 0:  # an overridden instance, moved by two hours
        moved = first + timedelta(days=7 * rng.randrange(1, 8))
        out += (
            f"BEGIN:VEVENT\r\nUID:series-{i}@bench\r\nDTSTAMP:20250901T000000Z\r\n"
            f"RECURRENCE-ID;TZID={zone}:{_stamp(moved)}\r\n"
            f"DTSTART;TZID={zone}:{_stamp(moved + timedelta(hours=2))}\r\n"
            f"DTEND;TZID={zone}:{_stamp(moved + timedelta(hours=2) + length)}\r\n"
            "SUMMARY:Moved\r\nEND:VEVENT\r\n"
        )
    return out


def _single(rng: random.Random, i: int) -> str:
    day = date(2025, 3, 2) + timedelta(days=rng.randrange(500))
    if i % 100 == 0:
        times = f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\nDTEND;VALUE=DATE:{day + timedelta(1):%Y%m%d}"
    else:
        zone = rng.choice(ZONES)
        s = datetime.combine(day, datetime.min.time()) + timedelta(
            minutes=15 * rng.randrange(28, 80)
        )
        e = s + timedelta(minutes=rng.choice([15, 30, 60, 120]))
        times = f"DTSTART;TZID={zone}:{_stamp(s)}\r\nDTEND;TZID={zone}:{_stamp(e)}"
    return (
        f"BEGIN:VEVENT\r\nUID:single-{i}@bench\r\nDTSTAMP:20250901T000000Z\r\n{times}\r\n"
        f"SUMMARY:Event {i}\r\nEND:VEVENT\r\n"
    )


def make_calendars(events: int, series: int) -> list[bytes]:
    rng = random.Random(13)
    bodies: list[list[str]] = [[], [], []]
    for i in range(series):
        bodies[i % 3].append(_series(rng, i))
    for i in range(events - series):
        bodies[i % 3].append(_single(rng, i))
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
    return [(head + "".join(b) + "END:VCALENDAR\r\n").encode() for b in bodies]


def _candidates() -> list[tuple[datetime, datetime]]:
    out = []
    day = START.date()
    while day < END.date():
        for a, b in HOURS.get(day.weekday(), []):
            t = datetime.combine(day, datetime.strptime(a, "%H:%M").time(), tzinfo=ROME)
            stop = datetime.combine(day, datetime.strptime(b, "%H:%M").time(), tzinfo=ROME)
            while t + DURATION <= stop:
                out.append((t.astimezone(UTC), (t + DURATION).astimezone(UTC)))
                t += STEP
        day += timedelta(days=1)
    return out


def peer(data: list[bytes]) -> list[datetime]:
    """The straightforward way: expand everything, then test each slot against each interval."""
    import icalendar
    import recurring_ical_events

    intervals = []
    for raw in data:
        cal = icalendar.Calendar.from_ical(raw)
        for ev in recurring_ical_events.of(cal).between(START - BUFFER, END):
            s, e = ev["DTSTART"].dt, ev["DTEND"].dt
            if not isinstance(s, datetime):  # all-day: the local day
                s = datetime.combine(s, datetime.min.time(), tzinfo=ROME)
                e = datetime.combine(e, datetime.min.time(), tzinfo=ROME)
            intervals.append((s.astimezone(UTC), e.astimezone(UTC)))
    free = []
    for s, e in _candidates():
        if all(not (b_s < e and b_e > s - BUFFER) for b_s, b_e in intervals):
            free.append(s)
    return free


def avflow_side(data: list[bytes]) -> list[datetime]:
    from avflow_calendar import ical
    from avflow_calendar.slots import BusyIndex, Rules, find

    hours = {
        d: [tuple(datetime.strptime(x, "%H:%M").time() for x in r) for r in rs]
        for d, rs in HOURS.items()
    }
    rules = Rules(tz=ROME, hours=hours, duration=DURATION, step=STEP, buffer_before=BUFFER)  # type: ignore[arg-type]
    cals = [ical.parse(ical.window(raw, START - BUFFER, END), "bench") for raw in data]
    spans = ical.busy_of(cals, START - BUFFER, END, ROME)
    # Every free slot: proposals here may overlap one another, as the peer's do.
    found = []
    index = BusyIndex(spans)
    for s, e in _candidates():
        if not index.overlaps(s - BUFFER, e):
            found.append(s)
    assert find(rules, index, {}, START, END, 1)[0][0] == found[0]  # the action's own search
    return found


def count_booking_requests(data: list[bytes]) -> list[str]:
    """HTTP requests of one calendar.book re-checking three Radicale calendars."""
    from radicale_server import Proxy, Radicale, request

    from avflow.clock import FakeClock
    from avflow.testing import Harness

    root = Path(tempfile.mkdtemp(prefix="avflow-bench-cal-"))
    server = Radicale(root)
    proxy = Proxy(server.port)
    try:
        urls = []
        for raw in data:
            url = server.new_calendar()
            # A whole calendar PUT on its collection: Radicale stores each UID as one event.
            status, _ = request(
                server.port, "PUT", url.split(str(server.port), 1)[1], raw, timeout=900
            )
            assert status in (201, 204), status
            urls.append(url.replace(f":{server.port}/", f":{proxy.port}/"))
        h = Harness(root / "h", clock=FakeClock("2026-03-01T08:00:00+00:00"))
        accounts = {
            f"c{i}": {"type": "caldav", "url": u, "username": "av", "password": "x"}
            for i, u in enumerate(urls)
        }
        h.client("acme", {"name": "Acme", "timezone": "Europe/Rome", "accounts": accounts})
        h.workflow(
            "acme",
            "slots",
            {
                "steps": [
                    {
                        "id": "f",
                        "uses": "calendar.free_slots",
                        "with": {
                            "account": "c0",
                            "also_busy": ["c1", "c2"],
                            "duration_minutes": 30,
                            "days": 28,
                        },
                    }
                ]
            },
        )
        slot = h.run("acme/slots").outputs["f"]["slots"][0]["start"]
        h.workflow(
            "acme",
            "book",
            {
                "steps": [
                    {
                        "id": "b",
                        "uses": "calendar.book",
                        "with": {
                            "account": "c0",
                            "also_busy": ["c1", "c2"],
                            "start": slot,
                            "duration_minutes": 30,
                            "title": "Bench",
                        },
                    }
                ]
            },
        )
        proxy.requests.clear()
        result = h.run("acme/book")
        assert result.status == "succeeded", result.error
        return list(proxy.requests)
    finally:
        proxy.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--radicale-events", type=int, default=600)
    parser.add_argument("--no-radicale", action="store_true")
    args = parser.parse_args()
    data = make_calendars(args.events, args.series)
    ours, theirs = avflow_side(data), peer(data)
    assert ours == theirs, f"the two sides disagree: {len(ours)} vs {len(theirs)} free slots"
    sides = {"avflow": avflow_side, "peer": peer}
    times: dict[str, list[float]] = {n: [] for n in sides}
    for trial in range(args.trials):
        order = list(sides) if trial % 2 == 0 else list(reversed(sides))
        for name in order:
            t = time.perf_counter()
            sides[name](data)
            times[name].append(time.perf_counter() - t)
    a, p = (statistics.median(times[n]) for n in sides)
    print(
        f"free slots, 4 weeks, 3 calendars, {args.events} events ({args.series} series): "
        f"{len(ours)} free 30-minute slots"
    )
    print(
        f"  avflow {a:.3f} s   peer (recurring-ical-events + interval loop) {p:.3f} s   "
        f"peer/avflow {p / a:.1f}x   (median of {args.trials} alternating trials; goal >= 2x)"
    )
    if not args.no_radicale:
        small = make_calendars(
            args.radicale_events, max(3, args.series * args.radicale_events // args.events)
        )
        reqs = count_booking_requests(small)
        print(
            f"one calendar.book against Radicale, 3 calendars re-checked: {len(reqs)} HTTP "
            f"requests {reqs} (goal: one busy-time query per calendar, one create)"
        )


if __name__ == "__main__":
    main()
