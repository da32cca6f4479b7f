"""``calendar.event_changed``: started by the service's own trigger runner (avflow's Triggers),
against a .ics file, a real Radicale (sync-collection) and the Google stand-in (syncToken,
410 Gone). New, moved and cancelled events fire once; a resync fires nothing already seen;
the sync state survives a restart of the trigger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from calhelp import caldav_client, calendar_client, ics
from test_google import setup as google_setup

from avflow.scheduler.triggers import Triggers

EVENT = """UID:{uid}
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Rome:20260310T{h}0000
DTEND;TZID=Europe/Rome:20260310T{h2}0000
SUMMARY:{title}"""


def ev(uid: str, hour: int, title: str = "Visit") -> str:
    return EVENT.format(uid=uid, h=f"{hour:02d}", h2=f"{hour + 1:02d}", title=title)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Watch:
    """The workflow's trigger, run by avflow's trigger runner; fired payloads collected."""

    def __init__(self, h: Any) -> None:
        self.h = h
        self.fired: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        h.workflow(
            "acme",
            "changed",
            {
                "on": {
                    "events": [
                        {
                            "uses": "calendar.event_changed",
                            "with": {"account": "cal", "poll_seconds": 1},
                        }
                    ]
                },
                "steps": [{"uses": "core.log", "with": {"message": "{{ run.event.change }}"}}],
            },
        )
        self.triggers: Triggers | None = None

    def start(self) -> None:
        def fire(key: tuple[str, str], uses: str, payload: Any) -> None:
            with self.lock:
                self.fired.append(dict(payload))

        app = self.h.reload()
        self.triggers = Triggers(self.h.pm.registry, app.vault, fire, self.h.home)
        self.triggers.sync(app.project)
        state = self.h.home / "plugins" / "calendar" / "event_changed"
        wait_for(lambda: list(state.glob("acme.changed.cal.json")), "the first sync")
        time.sleep(1.5)  # one more poll: nothing changed, nothing fired

    def stop(self) -> None:
        if self.triggers is not None:
            self.triggers.stop_all()

    def changes(self, n: int) -> list[tuple[str, str, str]]:
        """Wait for ``n`` firings in all; (change, title, start hh:mm) of each."""
        wait_for(lambda: len(self.fired) >= n, f"{n} firings")
        time.sleep(1.5)  # and no more than that
        with self.lock:
            got = [(p["change"], p["title"], p["start"][11:16]) for p in self.fired]
        assert len(got) == n, got  # nothing fired twice
        return got


@pytest.fixture
def watch(avflow_harness: Any) -> Iterator[Watch]:
    w = Watch(avflow_harness)
    yield w
    w.stop()


def test_ics_changes_fire_once(watch: Watch) -> None:
    h = watch.h
    calendar_client(h, "acme", "Europe/Rome", {"cal": ics(ev("a@x", 9))})
    path = h.workflows / "acme" / "cal.ics"
    watch.start()
    assert watch.fired == []  # what was there at the start does not fire
    path.write_text(ics(ev("a@x", 11), ev("b@x", 15, "New client")))
    assert watch.changes(2) == [("moved", "Visit", "11:00"), ("new", "New client", "15:00")]
    assert watch.fired[0]["previous_start"] == "2026-03-10T09:00:00+01:00"
    path.write_text(ics(ev("b@x", 15, "New client")))
    assert watch.changes(3)[2] == ("cancelled", "Visit", "11:00")
    # A restart remembers what it saw: nothing fires again; a change made while it was down does.
    watch.stop()
    path.write_text(ics(ev("b@x", 16, "New client")))
    watch.start()
    assert watch.changes(4)[3] == ("moved", "New client", "16:00")


def test_caldav_sync_token_and_a_dropped_token(watch: Watch, radicale: Any) -> None:
    from caldav.davclient import DAVClient

    h = watch.h
    url = radicale.new_calendar()
    caldav_client(h, "acme", "Europe/Rome", {"cal": url})
    cal = DAVClient(url=url, username="av", password="x").calendar(url=url)
    cal.save_event(ics(ev("a@x", 9)))
    watch.start()
    cal.save_event(ics(ev("b@x", 15, "New client")))
    assert watch.changes(1) == [("new", "New client", "15:00")]
    cal.save_event(ics(ev("a@x", 12)))  # the same UID: the event moved
    assert watch.changes(2)[1] == ("moved", "Visit", "12:00")
    # The server no longer knows the token: a full resync, and nothing already seen fires.
    watch.stop()
    state = h.home / "plugins" / "calendar" / "event_changed" / "acme.changed.cal.json"
    state.write_text(
        state.read_text().replace('"token": "', '"token": "http://radicale.org/ns/sync/00')
    )
    cal.event_by_uid("b@x").delete()
    watch.start()
    assert watch.changes(3)[2] == ("cancelled", "New client", "15:00")


def test_google_sync_token_and_410_gone(watch: Watch, google: Any) -> None:
    h = watch.h
    google_setup(h, google)
    watch.start()
    google.put(
        "primary",
        {
            "id": "new1",
            "summary": "New client",
            "start": {"dateTime": "2026-03-12T15:00:00+01:00"},
            "end": {"dateTime": "2026-03-12T16:00:00+01:00"},
        },
    )
    assert watch.changes(1) == [("new", "New client", "15:00")]
    assert any(k == "list" and "syncToken=sync-" in p for k, p, _ in google.log)
    # Google drops every token (410 Gone) while an event moves: one full listing, one firing.
    google.oldest_token = google.seq + 1
    google.calendars["primary"]["busy1"]["start"] = {"dateTime": "2026-03-10T12:00:00+01:00"}
    google.calendars["primary"]["busy1"]["end"] = {"dateTime": "2026-03-10T13:00:00+01:00"}
    google.touch("primary", "busy1")
    assert watch.changes(2)[1] == ("moved", "Dentist", "12:00")
    assert 410 in [s for k, _, s in google.log if k == "list"]
    google.oldest_token = 0
    # avflow's own booking does not fire; someone moving it does.
    h.workflow(
        "acme",
        "book",
        {"steps": [{"id": "b", "uses": "calendar.book", "with": {"account": "cal",
         "start": "2030-03-12T11:00", "duration_minutes": 60, "title": "Intro"}}]},
    )  # fmt: skip
    h.clock.set("2030-03-01T00:00:00+00:00")
    uid = h.run("acme/book").outputs["b"]["uid"].removeprefix("avflow-")
    time.sleep(2.5)
    assert len(watch.fired) == 2
    google.calendars["primary"][uid]["start"] = {"dateTime": "2030-03-12T14:00:00+01:00"}
    google.calendars["primary"][uid]["end"] = {"dateTime": "2030-03-12T15:00:00+01:00"}
    google.touch("primary", uid)
    assert watch.changes(3)[2] == ("moved", "Intro", "14:00")
    assert watch.fired[2]["booked_by_avflow"] is True


def test_a_revoked_google_sign_in_in_the_trigger_notifies_the_av(watch: Watch, google: Any) -> None:
    """The trigger cannot sync any more: it keeps failing, and after a few attempts the
    service's failure notifier tells the AV, with the command that reconnects it."""
    from test_google import _Notices

    from avflow.scheduler.notify import FailureNotifier
    from avflow.scheduler.store import ScheduleStore

    h = watch.h
    google.refresh_tokens.clear()  # revoked
    google_setup(h, google, token="expired")
    notices = _Notices()
    app = h.reload()
    notifier = FailureNotifier(
        ScheduleStore(app.state), [(notices.notifier, notices.settings)], h.clock
    )
    watch.triggers = Triggers(h.pm.registry, app.vault, lambda *a: None, h.home)
    watch.triggers.failed = notifier.trigger_failed
    watch.triggers.sync(app.project)
    assert notices.arrived.wait(30), "no failure notice was sent"
    watch.stop()
    notifier.close()
    [(workflows, errors)] = notices.sent
    assert workflows == ["acme/changed"]
    assert "its trigger failed" in (errors[0] or "")
    assert "invalid_grant" in (errors[0] or "") and "avflow auth google acme" in (errors[0] or "")


def test_own_reschedule_is_quiet_a_cancellation_is_not(watch: Watch, google: Any) -> None:
    h = watch.h
    google_setup(h, google)
    h.clock.set("2030-03-01T00:00:00+00:00")
    h.workflow(
        "acme",
        "book",
        {"steps": [{"id": "b", "uses": "calendar.book", "with": {"account": "cal",
         "start": "2030-03-12T11:00", "duration_minutes": 60, "title": "Intro"}}]},
    )  # fmt: skip
    uid = h.run("acme/book").outputs["b"]["uid"]
    watch.start()
    h.workflow(
        "acme",
        "move",
        {"steps": [{"id": "m", "uses": "calendar.reschedule", "with": {"account": "cal",
         "uid": uid, "start": "2030-03-13T09:00"}}]},
    )  # fmt: skip
    moved = h.run("acme/move")
    assert moved.status == "succeeded", moved.error
    time.sleep(2.5)
    assert watch.fired == []  # avflow moved it itself: nothing to react to
    new_id = moved.outputs["m"]["uid"].removeprefix("avflow-")
    google.calendars["primary"][new_id]["status"] = "cancelled"  # the client deletes it
    google.touch("primary", new_id)
    assert watch.changes(1) == [("cancelled", "Intro", "09:00")]
    assert watch.fired[0]["booked_by_avflow"] is True
