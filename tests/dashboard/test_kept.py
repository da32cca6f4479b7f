"""What the dashboard keeps between requests (rendered lines, figures of the minute, the vault
folder's listing) never shows something stale, and the page is masked whole."""

from __future__ import annotations

import sqlite3
from typing import Any

EVERY_MINUTE = {
    "name": "Ticker",
    "on": {"schedule": [{"cron": "* * * * *"}]},
    "steps": [{"id": "say", "uses": "core.log", "with": {"message": "tick"}}],
}


def _next_firing(page: str) -> str:
    """The 'Next run' cell of the Ticker workflow on a client page."""
    return page.split(">Ticker</a>", 1)[1].split("</td>", 2)[2]


def test_next_firings_follow_the_clock_across_a_minute(h: Any, logged: Any) -> None:
    h.client("acme", timezone="UTC")
    h.workflow("acme", "ticker", EVERY_MINUTE)
    h.clock.set("2026-01-05T09:00:30Z")
    page = logged.get("/clients/acme").text
    assert "09:01 UTC" in _next_firing(page)
    h.clock.set("2026-01-05T09:00:59.999Z")  # the same minute: the same figures
    assert "09:01 UTC" in _next_firing(logged.get("/clients/acme").text)
    h.clock.set("2026-01-05T09:01:00Z")  # a firing is strictly after now
    page = logged.get("/clients/acme").text
    assert "09:02 UTC" in _next_firing(page)
    upcoming = page.split("Upcoming firings", 1)[1]
    assert "Mon 2026-01-05 09:01 UTC" not in upcoming and "Mon 2026-01-05 09:02 UTC" in upcoming
    h.clock.set("2026-01-05T09:07:10Z")
    assert "09:08 UTC" in _next_firing(logged.get("/clients/acme").text)


def test_a_line_whose_values_change_is_shown_changed(h: Any, logged: Any) -> None:
    h.client("acme")
    h.workflow("acme", "ticker", EVERY_MINUTE)
    run = h.run("acme/ticker")
    line = logged.get("/clients/acme/runs").text.split(f'data-run="{run.id}"', 1)[1]
    assert "st-succeeded" in line.split("</tr>", 1)[0]
    con = sqlite3.connect(h.home / "state.db")
    con.execute("UPDATE runs SET status = 'failed', error = 'quota' WHERE id = ?", (run.id,))
    con.commit()
    con.close()
    for path in ("/clients/acme/runs", "/clients/acme"):
        line = logged.get(path).text.split(f'data-run="{run.id}"', 1)[1].split("</tr>", 1)[0]
        assert "st-failed" in line and "quota" in line and "succeeded" not in line, path


def test_a_secret_is_masked_as_html_escaping_writes_it(h: Any, logged: Any) -> None:
    from avflow import redact

    secret = "p&ss<w\"rd>'9"
    h.client("acme", {"name": f"Acme {secret}", "timezone": "Europe/Rome"})
    h.secret("acme", "mail", secret)
    redact.forget_all()  # a fresh service: the value was never used
    for path in ("/", "/clients/acme"):
        page = logged.get(path).text
        assert "p&amp;ss&lt;w&#34;rd&gt;&#39;9" not in page and "ss&lt;w" not in page, path
        assert secret not in page and "Acme [REDACTED]" in page, path


def test_a_vault_made_after_the_folder_was_listed_is_read(h: Any, logged: Any) -> None:
    from avflow import redact

    h.client("acme")
    h.client("beta", {"name": "Beta Zq81xV0pLm", "timezone": "Europe/Rome"})
    h.secret("acme", "mail", "acme-secret-value")
    assert "Beta Zq81xV0pLm" in logged.get("/clients/beta").text  # the folder is listed now
    h.secret("beta", "mail", "Zq81xV0pLm")  # a new file, within the folder's mtime tick
    redact.forget_all()
    page = logged.get("/clients/beta").text
    assert "Zq81xV0pLm" not in page and "Beta [REDACTED]" in page
    h.secret("beta", "token", "Kx27wq0AbC")  # the same file, rewritten
    h.client("beta", {"name": "Beta Kx27wq0AbC", "timezone": "Europe/Rome"})
    redact.forget_all()
    assert "Kx27wq0AbC" not in logged.get("/").text


def test_masking_takes_the_longest_secret_found_and_only_what_is_there() -> None:
    from avflow import redact
    from avflow.dashboard.masking import mask_html

    redact.forget_all()
    try:
        redact.register("Tk9-short")
        redact.register("Tk9-short-and-longer")
        page = "<p>Tk9-short-and-longer, Tk9-short &amp; Tk9-shore</p>"
        assert mask_html(page) == "<p>[REDACTED], [REDACTED] &amp; Tk9-shore</p>"
        assert mask_html("<p>nothing here</p>") == "<p>nothing here</p>"
        redact.register("a<b&c>d")  # registered after the first pages: taken in
        assert mask_html("<td>a&lt;b&amp;c&gt;d</td>") == "<td>[REDACTED]</td>"
    finally:
        redact.forget_all()


def test_a_kept_page_is_a_page_of_the_same_values_only() -> None:
    from dataclasses import dataclass

    from avflow.dashboard.pagecache import PageCache

    @dataclass
    class Loaded:  # unhashable, as a loaded client: kept by identity
        name: str

    made: list[str] = []

    def page(ctx: dict[str, Any]) -> str:
        def fresh() -> str:
            made.append(repr(ctx))
            return repr(ctx)

        return kept.render("p.html", ctx, fresh)

    kept = PageCache()
    one = Loaded("acme")
    base = {"client": one, "runs": [{"id": "r1", "status": "ok"}], "more": True, "n": 1}
    page(base)
    page({**base, "runs": [{"id": "r1", "status": "ok"}]})  # equal values: kept
    assert len(made) == 1
    variants: list[dict[str, Any]] = [
        {**base, "runs": [{"id": "r1", "status": "failed"}]},  # a value of a line
        {**base, "runs": [{"id": "r1", "status": "ok", "tags": ["a"]}]},  # unhashable inside
        {**base, "runs": [{"id": "r1", "status": "ok", "tags": ["b"]}]},
        {**base, "more": 1},  # 1 == True, but not the same text
        {**base, "n": True},
        {**base, "client": Loaded("acme")},  # an equal but other object (a reloaded project)
    ]
    for n, ctx in enumerate(variants, start=2):
        page(ctx)
        assert len(made) == n, ctx
    page({**base, "runs": [{"id": "r1", "status": "ok", "tags": ["b"]}]})
    assert len(made) == len(variants) + 1  # frozen all through, and found again


def test_templates_read_their_context_only() -> None:
    """A kept page is keyed by its context (`pagecache`): a template reading the request could
    show what the key does not hold."""
    import re
    from importlib.resources import files

    folder = files("avflow.dashboard") / "templates"
    for item in folder.iterdir():
        if item.name.endswith(".html"):
            assert not re.search(r"\brequest\b", item.read_text().replace("hx-request", "")), item


def test_templates_are_ascii() -> None:
    """Pages are sent as UTF-8: a page of ASCII characters only is encoded by a copy, one with a
    single other character (a '·' of the template) character by character (about 0.25 M
    instructions for the inbox's 27 KB); the templates write such characters as entities."""
    from importlib.resources import files

    for item in (files("avflow.dashboard") / "templates").iterdir():
        text = item.read_text()
        assert text.isascii(), (item.name, sorted({c for c in text if not c.isascii()}))
