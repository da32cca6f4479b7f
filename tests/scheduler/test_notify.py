"""The failure notifier: when notices go out (bursts, batches, reminders), through a test
plugin's notifier that writes them to a file; the email one is tested with the email plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sched_helpers import PLUGINS, client, write

from avflow.clock import FakeClock
from avflow.errors import ConfigError
from avflow.plugins import PluginManager
from avflow.scheduler.service import Service
from avflow.scheduler.settings import ServiceSettings, load_settings


def notices(project: Path) -> list[dict[str, Any]]:
    path = project / "notices.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def day(project: Path, when: str, **extra: Any) -> int:
    settings = ServiceSettings.model_validate(
        {
            "notify": {
                "fx_notices": {"path": str(project / "notices.jsonl"), "batch": "30s", **extra}
            }
        }
    )
    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    return Service(
        project / "workflows",
        project / "home",
        pm,
        clock=FakeClock(when),
        settings=settings,
        once=True,
    ).run()


FAIL = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: fx.fail, with: {message: "mailbox unreachable"}, retry: 3}]\n'
OK = 'on: {schedule: {cron: "0 9 * * *"}}\nsteps: [{uses: core.log, with: {message: fine}}]\n'


def test_one_notice_per_failure_burst(project: Path) -> None:
    client(project, "acme")
    client(project, "bravo")
    write(project / "workflows/acme/inbox.yaml", FAIL)
    write(project / "workflows/acme/invoices.yaml", FAIL)
    write(project / "workflows/bravo/posts.yaml", OK)
    assert day(project, "2026-03-02T09:00:05Z") == 1
    # both acme failures, one notice (not one per retry, not one per workflow)
    assert len(notices(project)) == 1
    first = notices(project)[0]
    assert sorted(first["workflows"]) == ["acme/inbox", "acme/invoices"]
    assert first["errors"] == ["step step1: mailbox unreachable"] * 2 and first["to"] is None

    assert day(project, "2026-03-03T09:00:05Z") == 1  # still failing: the same burst, no notice
    assert len(notices(project)) == 1

    write(project / "workflows/acme/inbox.yaml", OK)  # inbox recovers
    write(project / "workflows/bravo/posts.yaml", FAIL)  # bravo starts failing
    assert day(project, "2026-03-04T09:00:05Z") == 1
    assert [n["workflows"] for n in notices(project)[1:]] == [["bravo/posts"]]

    write(project / "workflows/acme/inbox.yaml", FAIL)  # a new burst for inbox
    assert day(project, "2026-03-05T09:00:05Z") == 1
    assert notices(project)[2]["workflows"] == ["acme/inbox"]
    assert notices(project)[2]["failures"] == [1]
    # repeat: workflows still failing after that long are reported again, with their counts
    assert day(project, "2026-03-06T09:00:05Z", repeat="12h") == 1
    assert len(notices(project)) == 4
    last = notices(project)[3]
    assert sorted(zip(last["workflows"], last["failures"], strict=True)) == [
        ("acme/inbox", 2),
        ("acme/invoices", 5),
        ("bravo/posts", 3),
    ]


def test_a_notice_not_delivered_is_sent_with_the_next_failure(project: Path) -> None:
    client(project, "acme")
    write(project / "workflows/acme/inbox.yaml", FAIL)
    assert day(project, "2026-03-02T09:00:05Z", fail=True) == 1  # logged, not fatal
    assert notices(project) == []
    assert day(project, "2026-03-03T09:00:05Z") == 1
    assert [(n["workflows"], n["failures"]) for n in notices(project)] == [(["acme/inbox"], [2])]
    assert day(project, "2026-03-04T09:00:05Z") == 1  # delivered once: the burst is reported
    assert len(notices(project)) == 1


def test_notify_sections_are_checked_by_their_notifier(tmp_path: Path) -> None:
    pm = PluginManager(autoload=False, plugins_dirs=[PLUGINS])
    path = tmp_path / "service.yaml"
    path.write_text("notify:\n  fx_notices:\n    batch: 5s\n    pathh: x\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, notifiers=pm.registry.notifiers)
    text = str(exc.value)
    assert f"{path}:4:5" in text and "pathh" in text
    path.write_text("notify:\n  pager: {to: x}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, notifiers=pm.registry.notifiers)
    assert f"{path}:2:3" in str(exc.value) and "known: fx_notices" in str(exc.value)
    path.write_text("notify:\n  fx_notices: {path: /tmp/x, batch: 2m}\n")
    settings = load_settings(path, notifiers=pm.registry.notifiers)
    assert settings.notify["fx_notices"].batch == 120.0


def test_settings_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text("concurrency:\n  max_runs: 0\nstop_timeout: soon\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    text = str(exc.value)
    assert f"{path}:2:" in text and f"{path}:3:" in text
    path.write_text("concurrency: {max_runs: 3}\nstop_timeout: 5s\n")
    settings = load_settings(path)
    assert settings.concurrency.max_runs == 3 and settings.stop_timeout == 5.0
