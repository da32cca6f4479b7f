"""The dashboard in a real browser (the Debian chromium, driven by Playwright) against a real
``avflow run`` process: log in, watch a run appear and finish, decide approvals."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sched_helpers import ServiceProc, client, write

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

if not Path(CHROMIUM).exists():  # the root conftest turns this skip into a failure under CI
    pytest.skip(
        "needs the Debian chromium package (apt-get install chromium)", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

TICK = """\
name: Tick
on:
  schedule:
    - cron: "* * * * *"
steps:
  - id: write
    uses: fx.write
    with: {{ path: "{out}", lines: 2 }}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def start(project: Path, services: list[Any], fake_now: str) -> tuple[ServiceProc, str, str]:
    write(project / "home" / "service.yaml", "dashboard:\n  port: 0\n")
    svc = ServiceProc(project, "run", fake_now=fake_now)
    services.append(svc)
    url = svc.wait_log("dashboard listening", timeout=30)["url"]
    svc.wait_log("service started", timeout=30)
    token = (project / "home" / "dashboard-token").read_text().strip()
    return svc, url, token


def log_in(page: Page, url: str, token: str) -> None:
    page.goto(url)
    expect(page).to_have_url(f"{url}login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Clients")


def test_log_in_and_see_a_run_appear_while_the_service_fires_it(
    project: Path, services: list[Any], page: Page
) -> None:
    out = project / "out.txt"
    client(project, "acme", timezone="Europe/Rome")
    write(project / "workflows/acme/tick.yaml", TICK.format(out=out))
    svc, url, token = start(project, services, fake_now="2026-03-02T08:59:40Z")
    page.goto(url)  # a wrong token first
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("not the login token")
    log_in(page, url, token)
    page.click("text=Acme")
    expect(page.locator("#runs")).to_contain_text("No runs yet.")
    assert not out.exists()
    page.evaluate("window.stillTheSamePage = true")  # gone if the page were reloaded
    row = page.locator("#runs tr.run").first
    expect(row).to_contain_text(
        "succeeded", timeout=60_000
    )  # the 09:00 firing, fired by the service
    expect(row).to_contain_text("Mon 2026-03-02 10:00 CET")
    assert page.evaluate("window.stillTheSamePage") is True
    assert out.read_text().count("acme/tick@2026-03-02T09:00:00Z") == 2
    row.locator("a").click()
    expect(page.locator("#run")).to_contain_text("write line 1 to out.txt")
    expect(page.locator(".run-status")).to_have_text("succeeded")
    assert svc.stop() == 0


def test_avflow_dashboard_link_logs_in_through_the_fragment(
    project: Path, services: list[Any], page: Page
) -> None:
    client(project, "acme")
    svc, url, token = start(project, services, fake_now="2026-03-02T08:00:00Z")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{url}login#token={token}")
    expect(page.locator("h1")).to_have_text("Clients")
    assert "#token" not in page.url and all(token not in r for r in requests)
    assert svc.stop() == 0


POST = """\
name: Winter post
on:
  schedule:
    - cron: "0 9 * * *"
steps:
  - id: check
    uses: core.approval
    with: {{ summary: "Publish the winter post?" }}
  - id: publish
    uses: fx.write
    with: {{ path: "{out}", lines: 2 }}
"""


def waiting_card(page: Page, url: str) -> Any:
    """The inbox, once the service's 09:00 (Rome) firing has stopped at its approval step."""
    page.goto(f"{url}approvals")
    card = page.locator("article.approval")
    expect(card).to_contain_text("Publish the winter post?", timeout=60_000)
    expect(card.locator(".preview")).to_contain_text("write line 0 to out.txt")
    return card


def run_status(page: Page, url: str, project: Path) -> Any:
    from sched_helpers import runs

    [row] = runs(project, "acme", "post")
    page.goto(f"{url}clients/acme/runs/{row['id']}")
    return page.locator(".run-status")


def test_approve_a_waiting_step_and_see_the_run_finish(
    project: Path, services: list[Any], page: Page
) -> None:
    out = project / "out.txt"
    client(project, "acme", timezone="Europe/Rome")
    write(project / "workflows/acme/post.yaml", POST.format(out=out))
    svc, url, token = start(project, services, fake_now="2026-03-02T07:59:35Z")
    log_in(page, url, token)
    card = waiting_card(page, url)
    status = run_status(page, url, project)
    expect(status).to_have_text("waiting")
    assert not out.exists()
    card = waiting_card(page, url)
    card.locator("button.approve").click()
    expect(page.locator("#inbox")).to_contain_text("Nothing waits for a decision.")
    status = run_status(page, url, project)
    expect(status).to_have_text("succeeded", timeout=30_000)  # live: the page polls the run
    assert out.read_text().count("acme/post@2026-03-02T08:00:00Z") == 2
    assert svc.stop() == 0


def test_reject_a_waiting_step_and_see_the_run_stop(
    project: Path, services: list[Any], page: Page
) -> None:
    out = project / "out.txt"
    client(project, "acme", timezone="Europe/Rome")
    write(project / "workflows/acme/post.yaml", POST.format(out=out))
    svc, url, token = start(project, services, fake_now="2026-03-02T07:59:35Z")
    log_in(page, url, token)
    card = waiting_card(page, url)
    card.locator("button.reject").click()  # no reason: the browser does not send it
    expect(card).to_be_visible()
    card.locator("input[name=reason]").fill("wrong photo")
    card.locator("button.reject").click()
    expect(page.locator("#inbox")).to_contain_text("Nothing waits for a decision.")
    status = run_status(page, url, project)
    expect(status).to_have_text("rejected", timeout=30_000)
    assert not out.exists()
    assert svc.stop() == 0


def test_an_approval_survives_a_sigkill_of_the_service_before_the_decision(
    project: Path, services: list[Any], page: Page
) -> None:
    out = project / "out.txt"
    client(project, "acme", timezone="Europe/Rome")
    write(project / "workflows/acme/post.yaml", POST.format(out=out))
    svc, url, token = start(project, services, fake_now="2026-03-02T07:59:35Z")
    log_in(page, url, token)
    waiting_card(page, url)
    svc.kill()  # SIGKILL between the request and the decision
    svc2 = ServiceProc(project, "run", fake_now="2026-03-02T08:05:00Z")
    services.append(svc2)
    url2 = svc2.wait_log("dashboard listening", timeout=30)["url"]
    if url2 != url:  # port 0: a new port, so a new cookie; the token is the same
        log_in(page, url2, token)
    card = waiting_card(page, url2)
    card.locator("button.approve").click()
    # the decision's answer first: leaving the page at once could cancel the POST in flight
    expect(page.locator("#inbox")).to_contain_text("Nothing waits for a decision.")
    status = run_status(page, url2, project)
    expect(status).to_have_text("succeeded", timeout=30_000)
    assert out.read_text().count("acme/post@2026-03-02T08:00:00Z") == 2
    assert svc2.stop() == 0
