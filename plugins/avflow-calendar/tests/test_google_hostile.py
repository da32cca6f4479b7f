"""Google answers that are not what they should be: garbage, JSON cut short, a redirect to
another host (which must never receive the client's token)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gcal_server import Failure
from test_google import setup


class Elsewhere:
    """Another host (127.0.0.2): records what it is sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        me = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _any(self) -> None:
                me.seen.append({k.lower(): v for k, v in self.headers.items()})
                data = b'{"items": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.2", 0), H)
        self.url = f"http://127.0.0.2:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def with_retry(h: Any) -> None:
    """The booking workflow with a second attempt: it settles an unknown outcome (reconcile)."""
    wf = h.find("acme/book")
    step = {"id": "b", "uses": "calendar.book", "retry": {"attempts": 2, "backoff": 0}}
    step["with"] = dict(wf.model.steps[0].with_)
    h.workflow("acme", "book", {"steps": [step]})


def test_an_answer_that_is_not_json_fails_naming_the_calendar(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    google.failures.append(Failure("list", status=200, raw=b'{"items": [{"id": "x", "sta'))
    result = h.run("acme/slots")
    assert result.status == "failed"
    # before: "AttributeError: 'str' object has no attribute 'get'"
    assert "calendar 'cal': read busy time: the answer was not Google's JSON" in result.error


def test_a_garbled_answer_to_a_booking_is_settled_by_asking_google(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    """A proxy's page in answer to events.insert, the event not created: the booking was
    recorded as done before, with no event in the calendar. Its outcome is unknown now, and
    resuming asks Google for the event by its id and books it once."""
    h = avflow_harness
    setup(h, google)
    google.failures.append(Failure("insert", status=200, raw=b"<html>Sign in to the Wi-Fi"))
    first = h.run("acme/book")
    assert first.status == "failed", "recorded as booked, but Google has no such event"
    assert [e.status for e in first.effects] == ["unknown"]
    assert "the answer was not Google's JSON" in (first.error or "")
    assert len(google.calendars["primary"]) == 3
    google.failures.append(Failure("insert", status=200, raw=b"<html>Sign in to the Wi-Fi"))
    with_retry(h)
    booked = h.run("acme/book")  # attempt 1 unknown; attempt 2 asks Google, then books
    assert booked.status == "succeeded", booked.error
    assert len(google.calendars["primary"]) == 4  # booked once
    assert [k for k in google.kinds() if k == "insert"] == ["insert", "insert", "insert"]


def test_a_garbled_answer_after_google_booked_is_settled_without_a_second_event(
    avflow_harness, google
) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    with_retry(h)
    google.failures.append(Failure("insert", status=200, raw=b'{"id": "av', perform=True))
    booked = h.run("acme/book")
    assert booked.status == "succeeded", booked.error
    assert booked.outputs["b"]["status"] == "booked"
    assert len(google.calendars["primary"]) == 4  # exactly one event
    assert [k for k in google.kinds() if k == "insert"] == ["insert"]  # found, not sent again
    assert [r["event"] for r in booked.audit if r["event"].startswith("effect.")][-1] == (
        "effect.reconciled"
    )


def test_a_redirect_to_another_host_is_not_followed(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    other = Elsewhere()
    moved = {"Location": other.url + "calendar/v3/calendars/primary/events"}
    google.failures.append(Failure("list", status=302, raw=b"", headers=moved))
    result = h.run("acme/slots")
    # before: the other host's empty listing was taken as the calendar's (every slot free)
    assert result.status == "failed" and "HTTP 302" in (result.error or "")
    assert other.seen == []


def test_a_listing_that_never_ends_is_stopped(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    again = b'{"items": [], "nextPageToken": "again"}'
    for _ in range(3):
        google.failures.append(Failure("list", status=200, raw=again))
    result = h.run("acme/slots")
    # before: it asked for page 'again' for as long as the server gave it (here three times)
    assert result.status == "failed"
    assert "Google's listing did not end (page token 'again' repeated)" in result.error
    assert google.kinds().count("list") == 2
