"""What `avflow validate` and `avflow next` import, so their start-up stays quick (bench/cli.py
measures the time; these tests only look at which modules a real process loaded).

The social networks' client libraries (httpx, the AT Protocol SDK: seconds of imports), the
Markdown parser, structlog (nothing is logged), the social publishing code, the archive's PDF
workers and file sniffer, every country of `holidays` but the clients' own, and Jinja2 when no
workflow holds a template are imported only by the commands that use them (docs/operations.md, "Command-line start-up").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import holidays
import pytest

from avflow.holidaycal import country_holidays

DEMO = Path(__file__).resolve().parents[1] / "workflows"
NEVER = {"httpx", "atproto", "atproto_client", "markdown_it", "structlog", "rich", "asyncio"}
NEVER |= {"regex", "filetype", "multiprocessing"}  # a post's length, a file's type, PDF workers
# publishing code, a notice's mail, a lost Mastodon answer's HTML: when they are needed
NEVER_MODULES = {"avflow_social.publish", "email.policy", "html.parser"}
# the archive's file sniffer (a thread pool's futures) and name cleaner (pathvalidate)
NEVER |= {"pathvalidate", "concurrent"}
NEVER_MODULES |= {"avflow_archive.sniff", "avflow_archive.sanitize"}
# the social networks the demo has no channel on (each registered by reference), and what only a
# run is handed (avflow.runtypes)
NEVER_MODULES |= {
    f"avflow_social.providers.{p}"
    for p in ("mastodon", "bluesky", "linkedin", "facebook", "wordpress", "webhook")
}
NEVER_MODULES |= {"avflow.runtypes"}
# the e-mail notifier, registered by reference: no service.yaml configures it here
NEVER_MODULES |= {"avflow_email.notifier"}
# the settings of account types the demo does not use (registered by reference)
NEVER_MODULES |= {"avflow_calendar.remote_settings", "avflow_email.imap_settings"}
NEVER_MODULES |= {"avflow_archive.remote_settings"}
# the parameters of the calendar actions (and trigger) the demo does not use, by reference
NEVER_MODULES |= {"avflow_calendar.change_params", "avflow_archive.watch_params"}
# the archive's file to be filed (a frozen dataclass): built when files are filed
NEVER_MODULES |= {"avflow_archive.incoming"}
# the social provider classes (the demo's outbox channels are checked with their settings alone)
# and the e-mail trigger's module (its parameters registered by reference)
NEVER_MODULES |= {"avflow_social.provider", "avflow_social.providers.outbox"}
NEVER_MODULES |= {"avflow_email.trigger"}
# the service settings' models: a home without service.yaml grants no root and has no TLS key
NEVER_MODULES |= {"avflow.scheduler.settings"}
# what a running step is handed (avflow.ClientInfo), and the parameters of core.fail and
# core.approval (registered by reference; the demo uses neither)
NEVER_MODULES |= {"avflow.clientinfo", "avflow.builtin_params"}
# the redaction of secrets (and sqlite3, for the redacting connection): nothing reads a secret's
# value or opens a database; difflib: the hints of mistakes, and there are none
NEVER_MODULES |= {"avflow.redact"}
NEVER |= {"sqlite3", "difflib"}
# croniter's import asks platform.architecture(), which runs `file` in a child process: the
# command line has it answered from the pointer size (avflow.process.quiet_croniter)
NEVER |= {"subprocess"}

PROBE = """
import json, sys
from avflow.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("exit", exc.code)
print(json.dumps(sorted(sys.modules)))
"""


def _run(*args: str) -> tuple[str, set[str]]:
    """``avflow ARGS`` in a fresh process, every installed plugin loaded: its output and the
    modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    out, _, modules = done.stdout.rstrip().rpartition("\n")
    return out, set(json.loads(modules))


@pytest.mark.parametrize("command", [["validate"], ["next", "--count", "5"]])
def test_the_demo_loads_no_network_client_logger_or_other_country(
    tmp_path: Path, command: list[str]
) -> None:
    out, modules = _run("--workflows", str(DEMO), "--home", str(tmp_path), *command)
    assert "exit" not in out, out
    assert {m.split(".")[0] for m in modules} & NEVER == set()
    assert modules & NEVER_MODULES == set()
    countries = {m for m in modules if m.startswith("holidays.countries")}
    # both load the clients' own countries (validate checks their codes), no other
    needed = {"holidays.countries.italy", "holidays.countries.united_states"}
    assert countries == needed
    assert {"avflow_social", "avflow_email", "avflow_archive", "avflow_calendar"} <= modules
    assert "avflow_social.providers.outbox_settings" in modules  # the demo's channels: outboxes


def test_no_template_no_jinja2(tmp_path: Path) -> None:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\nholidays: IT\n")
    (client / "tidy.yaml").write_text(
        "name: Tidy\non:\n  schedule: [{cron: '0 9 * * 1'}]\n"
        "steps:\n  - uses: core.log\n    with: { message: tidy }\n"
    )
    out, modules = _run(
        "--workflows", str(client.parent), "--home", str(tmp_path / "h"), "validate"
    )
    assert out == "ok: 1 clients, 1 workflows"
    assert not any(m.split(".")[0] == "jinja2" for m in modules)


def test_a_wrong_country_is_still_an_error_with_its_line(tmp_path: Path) -> None:
    client = tmp_path / "workflows" / "acme"
    client.mkdir(parents=True)
    (client / "client.yaml").write_text("name: Acme\nholidays: XX\n")
    done = subprocess.run(
        [sys.executable, "-m", "avflow", "--workflows", str(client.parent), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AVFLOW_HOME": str(tmp_path / "h")},
    )
    assert done.returncode == 2
    assert "client.yaml:2:" in done.stderr and "unknown holidays country 'XX'" in done.stderr


@pytest.mark.parametrize(
    ("country", "subdiv"),
    [("IT", None), ("US", "NY"), ("DE", "BY"), ("GB", None), ("GP", None), ("ITA", None)],
)
def test_one_country_gives_the_packages_own_calendar(country: str, subdiv: str | None) -> None:
    ours = country_holidays(country, subdiv=subdiv, years=2026)
    theirs = holidays.country_holidays(country, subdiv=subdiv, years=2026)
    assert type(ours) is type(theirs)
    assert dict(ours) == dict(theirs) and len(ours) > 3
    assert ours.get(date(2026, 12, 25)) == theirs.get(date(2026, 12, 25))


def test_unknown_country_or_region_raises_as_the_package_does() -> None:
    for country, subdiv in [("XX", None), ("it", None), ("US", "ZZ")]:
        with pytest.raises(NotImplementedError) as ours:
            country_holidays(country, subdiv=subdiv)
        with pytest.raises(NotImplementedError) as theirs:
            holidays.country_holidays(country, subdiv=subdiv)
        assert str(ours.value) == str(theirs.value)


def test_only_the_named_country_is_imported() -> None:
    """The fast path is the one taken (it fails the day `holidays` moves its modules)."""
    probe = (
        "import sys\nfrom avflow.holidaycal import country_holidays\n"
        "country_holidays('IT', years=2026)\n"
        "print(sorted(m for m in sys.modules if m.startswith('holidays.countries')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['holidays.countries.italy']"


CRONITER = """
import platform, sys
real = platform.architecture
{hook}
import croniter
assert platform.architecture is real
assert sys.modules["croniter.croniter"].OVERFLOW32B_MODE is False
print("subprocess" in sys.modules)
"""


@pytest.mark.parametrize("hooked", [True, False])
def test_croniter_is_imported_without_running_a_program(hooked: bool) -> None:
    """Without the hook, croniter's import runs `file -b` on the interpreter (subprocess
    imported); with it, nothing is run, and platform.architecture is put back."""
    hook = "from avflow.process import quiet_croniter; quiet_croniter()" if hooked else ""
    done = subprocess.run(
        [sys.executable, "-c", CRONITER.format(hook=hook)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(not hooked)
