"""``type: google_calendar`` through the real google-api-python-client, against a local server
implementing the Calendar v3 endpoints used and Google's token endpoint (gcal_server.py)."""

from __future__ import annotations

from typing import Any

import pytest
from gcal_server import Failure, GoogleCalendarServer


def setup(h: Any, g: GoogleCalendarServer, token: str = "valid-token", **extra: Any) -> None:
    account = {
        "type": "google_calendar",
        "token": token,
        "refresh_token": "${secret:google}",
        "client_id": "app.apps.example",
        "client_secret": "${secret:google_app}",
        "token_uri": g.token_uri,
        "api_endpoint": g.api,
        "timeout": 2,
        **extra,
    }
    h.client(
        "acme",
        {
            "name": "Acme",
            "timezone": "Europe/Rome",
            "accounts": {"cal": account},
            "working_hours": {"mon-fri": "09:00-13:00"},
        },
    )
    h.secret("acme", "google", "refresh-1")
    h.secret("acme", "google_app", "app-secret")
    h.clock.set("2026-03-09T12:00:00+00:00")  # Monday 13:00 in Rome
    h.workflow(
        "acme",
        "slots",
        {
            "steps": [
                {
                    "id": "f",
                    "uses": "calendar.free_slots",
                    "with": {
                        "account": "cal",
                        "duration_minutes": 60,
                        "step_minutes": 60,
                        "count": 5,
                    },
                }
            ]
        },
    )
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
                        "start": "2026-03-10T11:00",
                        "duration_minutes": 60,
                        "title": "Intro",
                        "attendees": ["anna@example.com"],
                        "location": "Roma",
                    },
                }
            ]
        },
    )


def starts(result: Any) -> list[str]:
    assert result.status == "succeeded", result.error
    return [s["start"][11:16] + s["start"][8:10] for s in result.outputs["f"]["slots"]]


def test_slots_and_a_booking(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    # Tue 10: 09-10 busy, 10-11 transparent; Wed 11 all day; Thu 12.
    assert starts(h.run("acme/slots")) == ["10:0010", "11:0010", "12:0010", "09:0012", "10:0012"]
    booked = h.run("acme/book")
    assert booked.status == "succeeded", booked.error
    stored = google.calendars["primary"][booked.outputs["b"]["uid"].removeprefix("avflow-")]
    assert stored["start"] == {"dateTime": "2026-03-10T10:00:00Z"}
    assert stored["attendees"] == [{"email": "anna@example.com"}]
    assert stored["location"] == "Roma"
    assert "avflowBooking" in stored["extendedProperties"]["private"]
    assert any(k == "insert" and "sendUpdates=all" in p for k, p, _ in google.log)
    assert google.kinds()[-2:] == ["list", "insert"]  # the re-check, the creation
    assert starts(h.run("acme/slots"))[:2] == ["10:0010", "12:0010"]
    clash = h.run("acme/book")  # another run, the same slot: Google's 409, a clear conflict
    assert clash.status == "failed" and "booked by another run" in (clash.error or "")
    assert len(google.calendars["primary"]) == 4


def test_expired_access_token_is_refreshed(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google, token="expired")
    assert starts(h.run("acme/slots"))[0] == "10:0010"
    assert google.kinds() == ["list", "token", "list"]
    assert [s for _, _, s in google.log] == [401, 200, 200]


def test_revoked_sign_in_fails_at_once_naming_the_command(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    google.refresh_tokens.clear()  # the client revoked avflow's access
    setup(h, google, token="expired")
    result = h.run("acme/slots")
    assert result.status == "failed"
    error = result.error or ""
    assert "invalid_grant" in error and "avflow auth google acme" in error
    assert "\n" not in error and "Traceback" not in error
    assert google.kinds() == ["list", "token"]  # no retrying against a revoked grant


@pytest.mark.parametrize(
    "failure",
    [
        Failure("list", 429, "rateLimitExceeded", {"Retry-After": "1"}),
        Failure("list", 403, "userRateLimitExceeded"),
        Failure("list", 500),
    ],
)
def test_rate_limits_and_server_errors_are_retried(avflow_harness, google, failure) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    google.failures.append(failure)
    assert starts(h.run("acme/slots"))[0] == "10:0010"
    assert [s for _, _, s in google.log] == [failure.status, 200]


def test_a_403_that_is_not_a_rate_limit_fails(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    google.failures.append(Failure("list", 403, "forbidden"))
    result = h.run("acme/slots")
    assert result.status == "failed" and "HTTP 403" in (result.error or "")
    assert len(google.log) == 1


def test_timeout_after_the_server_created_the_event(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    google.failures.append(Failure("insert", delay=4, perform=True))  # longer than timeout 2
    booked = h.run("acme/book")
    assert booked.status == "succeeded", booked.error
    assert len(google.calendars["primary"]) == 4  # exactly one event was added
    inserts = [s for k, _, s in google.log if k == "insert"]
    assert inserts == [200, 409]  # the lost answer, then the retry finding the event
    assert booked.outputs["b"]["status"] == "booked"


def test_server_error_on_insert_then_success(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h, google)
    google.failures.append(Failure("insert", 503))
    booked = h.run("acme/book")
    assert booked.status == "succeeded", booked.error
    assert len(google.calendars["primary"]) == 4


class _Notices:
    """A notifier plugin, as the email plugin's would be configured in service.yaml."""

    def __init__(self) -> None:
        import threading

        import avflow

        self.sent: list[tuple[list[str], list[str | None]]] = []
        self.arrived = threading.Event()
        outer = self

        class Settings(avflow.NotifierSettings):
            pass

        def send(settings: Any, failures: list[Any], to: str | None) -> None:
            outer.sent.append(
                ([f"{f.client}/{f.workflow}" for f in failures], [f.error for f in failures])
            )
            outer.arrived.set()

        self.notifier = avflow.Notifier("test_notices", Settings, send)
        self.settings = Settings(batch=0)


def test_revoked_sign_in_notifies_the_av_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The run fails with the reconnect line, and the service's failure notifier (the core
    hook every notifier plugin is driven by) sends it to the AV right away."""
    from avflow.clock import FakeClock
    from avflow.scheduler.notify import FailureNotifier
    from avflow.scheduler.store import ScheduleStore
    from avflow.testing import Harness

    google = GoogleCalendarServer()
    notices = _Notices()
    h = Harness(tmp_path, clock=FakeClock())
    try:
        google.refresh_tokens.clear()
        setup(h, google, token="expired")
        notifier = FailureNotifier(
            ScheduleStore(h.app.state), [(notices.notifier, notices.settings)], h.clock
        )
        h.pm.pm.register(notifier, name="avflow.notify")
        result = h.run("acme/slots")
        assert result.status == "failed"
        assert notices.arrived.wait(10), "no failure notice was sent"
        [(workflows, errors)] = notices.sent
        assert workflows == ["acme/slots"]
        assert "invalid_grant" in (errors[0] or "")
        assert "avflow auth google acme" in (errors[0] or "")
        notifier.close()
    finally:
        google.stop()
        h.app.state.close()


def test_another_google_calendar_is_read_with_freebusy(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    """A calendar listed under also_busy needs only its busy time: one freeBusy query, in the
    search and in the booking's re-check."""
    h = avflow_harness
    setup(h, google)
    google.calendars["team"] = {
        "standup": {
            "id": "standup",
            "start": {"dateTime": "2026-03-10T10:00:00+01:00"},
            "end": {"dateTime": "2026-03-10T12:00:00+01:00"},
            "summary": "Team day",
        }
    }
    profile = h.workflows / "acme" / "client.yaml"
    text = profile.read_text()
    import yaml

    doc = yaml.safe_load(text)
    doc["accounts"]["team"] = {**doc["accounts"]["cal"], "calendar_id": "team"}
    h.client("acme", doc)
    ref = "acme/slots"
    wf = yaml.safe_load((h.workflows / "acme" / "slots.yaml").read_text())
    wf["steps"][0]["with"]["also_busy"] = ["team"]
    h.workflow("acme", "slots", wf)
    assert starts(h.run(ref)) == ["12:0010", "09:0012", "10:0012", "11:0012", "12:0012"]
    assert google.kinds() == ["list", "freebusy"]
    book = yaml.safe_load((h.workflows / "acme" / "book.yaml").read_text())
    book["steps"][0]["with"]["also_busy"] = ["team"]
    h.workflow("acme", "book", book)
    clash = h.run("acme/book")  # 11:00 on Tuesday: busy in the team calendar
    assert clash.status == "failed" and "team: busy" in (clash.error or "")
    assert google.kinds()[-2:] == ["list", "freebusy"]
    assert len(google.calendars["primary"]) == 3


def test_an_errors_reason_is_read_through_the_public_attribute(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`HttpError.reason` (public, set when the error is made), never the private
    ``_get_reason``: fails if gcal.py calls the private method again."""
    import json

    import httplib2
    from avflow_calendar import gcal
    from googleapiclient.errors import HttpError

    body = {"error": {"code": 403, "message": "User Rate Limit Exceeded"}}
    exc = HttpError(httplib2.Response({"status": 403}), json.dumps(body).encode())

    def private(self: HttpError) -> str:
        raise AssertionError("HttpError._get_reason is private")

    monkeypatch.setattr(HttpError, "_get_reason", private)
    assert gcal._reason(exc) == "User Rate Limit Exceeded"
