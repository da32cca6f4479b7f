"""``calendar.cancel``: the booked event goes, once; others' events are refused."""

from __future__ import annotations

from test_book import events, setup
from test_google import setup as google_setup


def cancel_workflow(h, uid: str, **extra) -> str:  # type: ignore[no-untyped-def]
    h.workflow(
        "acme",
        "cancel",
        {
            "steps": [
                {
                    "id": "c",
                    "uses": "calendar.cancel",
                    "with": {"account": "cal", "uid": uid, **extra},
                }
            ]
        },
    )
    return "acme/cancel"


def test_cancel_an_ics_booking(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    booked = h.run(setup(h))
    uid = booked.outputs["book"]["uid"]
    cal = h.workflows / "acme" / "cal.ics"
    ref = cancel_workflow(h, uid)
    dry = h.run(ref, dry_run=True)
    assert dry.outputs["c"]["status"] == "would_cancel" and len(events(cal)) == 2
    done = h.run(ref)
    assert done.status == "succeeded", done.error
    assert done.outputs["c"]["status"] == "cancelled"
    assert [str(e["UID"]) for e in events(cal)] == ["dentist@test"]
    again = h.run(ref)  # another run: nothing left to cancel
    assert again.outputs["c"]["status"] == "not_found"
    # The slot is free again: booking it anew works (the same UID, no longer there).
    assert h.run("acme/book").status == "succeeded"


def test_an_event_avflow_did_not_book_is_refused(avflow_harness) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    setup(h)
    cal = h.workflows / "acme" / "cal.ics"
    refused = h.run(cancel_workflow(h, "dentist@test"))
    assert refused.status == "failed" and "not booked by avflow" in (refused.error or "")
    assert [e.status for e in refused.effects] == ["failed"]  # nothing deleted: not unknown
    assert len(events(cal)) == 1
    forced = h.run(cancel_workflow(h, "dentist@test", any_event=True))
    assert forced.status == "succeeded", forced.error
    assert events(cal) == []


def test_cancel_a_google_booking(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    h = avflow_harness
    google_setup(h, google)
    booked = h.run("acme/book")
    uid = booked.outputs["b"]["uid"]
    done = h.run(cancel_workflow(h, uid))
    assert done.status == "succeeded", done.error
    assert google.calendars["primary"][uid.removeprefix("avflow-")]["status"] == "cancelled"
    assert any(k == "delete" and "sendUpdates=all" in p for k, p, _ in google.log)
    assert h.run("acme/cancel").outputs["c"]["status"] == "not_found"


def test_a_cancelled_google_slot_can_be_booked_again(avflow_harness, google) -> None:  # type: ignore[no-untyped-def]
    """Google keeps a deleted event under its id (insert answers 409): booking the slot again
    restores that event with a patch conditional on its etag, so it stays one event."""
    h = avflow_harness
    google_setup(h, google)
    uid = h.run("acme/book").outputs["b"]["uid"]
    assert h.run(cancel_workflow(h, uid)).status == "succeeded"
    again = h.run("acme/book")
    assert again.status == "succeeded", again.error
    stored = google.calendars["primary"][uid.removeprefix("avflow-")]
    assert stored["status"] == "confirmed" and stored["summary"] == "Intro"
    assert [s for k, _, s in google.log if k in ("insert", "patch")][-2:] == [409, 200]
    assert any(k == "patch" for k, _, _ in google.log)


def test_unused_actions_params_are_by_reference_and_still_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """cancel, confirm, reschedule and event_changed register their parameters as `avflow.lazy`:
    a workflow that uses one is checked with the model all the same."""
    import subprocess
    import sys
    from pathlib import Path

    import avflow
    from avflow.plugins import PluginManager

    registry = PluginManager().registry
    for name in ("calendar.cancel", "calendar.confirm", "calendar.reschedule"):
        action = registry.actions[name]
        assert isinstance(action.params, avflow.lazy)
        assert action.params_model.__module__ == "avflow_calendar.change_params"
    trigger = registry.triggers["calendar.event_changed"]
    assert trigger.params_model.__name__ == "EventChangedParams"
    assert registry.actions["calendar.book"].params_model.__name__ == "BookParams"  # a class
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text(
        "name: Acme\naccounts:\n  cal: { type: ics, path: cal.ics, create: true }\n"
    )
    (client / "cancel.yaml").write_text(
        "name: Cancel\non: { schedule: [{ cron: '0 8 * * *' }] }\nsteps:\n  - id: c\n    uses: calendar.cancel\n"
        "    with: { account: cal, uid: '', any_event: maybe }\n"
    )
    avflow_cli = str(Path(sys.executable).parent / "avflow")
    done = subprocess.run(
        [avflow_cli, "--workflows", str(client.parent), "--home", str(tmp_path / "h"), "validate"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stdout
    assert "cancel.yaml:6:" in done.stderr and "uid" in done.stderr, done.stderr
    assert "any_event" in done.stderr, done.stderr
