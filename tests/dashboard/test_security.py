"""Dashboard security: the token, the session cookie, CSRF and Origin, Host, secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from dashboard_testkit import TOKEN, HarnessSource, csrf_of, log_in, make_client

from avflow.dashboard.security import load_token
from avflow.dashboard.web import create_app

WF = {
    "name": "Inbox",
    "on": {"schedule": [{"cron": "0 * * * *"}]},
    "steps": [{"id": "say", "uses": "core.log", "with": {"message": "hello"}}],
}


def _paths(h: Any) -> tuple[list[str], list[str]]:
    """Every GET and POST route of the app, with its parameters filled in."""
    h.client("acme")
    h.workflow("acme", "inbox", WF)
    run = h.run("acme/inbox")
    app = create_app(HarnessSource(h), TOKEN)
    gets, posts = [], []
    for route in app.routes:
        path = getattr(route, "path", "")
        methods = getattr(route, "methods", None) or set()
        if not path or path.startswith(("/static", "/login")):
            continue
        path = (
            path.replace("{client}", "acme")
            .replace("{run_id}", run.id)
            .replace("{approval_id}", "abcdefghjk")
        )
        (posts if "POST" in methods else gets).append(path)
    return gets, posts


def test_no_page_or_api_answers_without_the_token(h: Any, web: Any) -> None:
    gets, posts = _paths(h)
    assert len(gets) >= 8 and len(posts) >= 3  # every route the app has, not a chosen few
    for path in gets:
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
        assert "acme" not in r.text.lower(), path
        r = web.get(path, headers={"HX-Request": "true"})
        assert r.status_code == 401 and r.text == "log in first", path
    for path in posts:
        r = web.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert r.status_code == 401, path
    # a forged cookie (signed with another key) is no session either
    web.cookies.set("avflow_session", "eyJhdXRoIjogdHJ1ZX0=.aaaa.bbbb")
    assert web.get("/", follow_redirects=False).status_code == 303


def test_only_the_login_page_itself_is_public(web: Any) -> None:
    """Paths that begin like the login page (it was a prefix test) need a session like any
    other: a page is sent to the login, htmx gets 401, never the 404 page or a 200."""
    for path in ("/login-page", "/loginX", "/login/x", "/login.html", "/loginstatic/x"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", (path, r.status_code)
        r = web.get(path, headers={"HX-Request": "true"})
        assert r.status_code == 401 and r.text == "log in first", path
        assert web.post(path, data={"csrf": "x"}, follow_redirects=False).status_code == 401
    assert web.get("/login").status_code == 200  # the login page itself, and the static files
    assert web.get("/static/htmx.min.js").status_code == 200


def test_a_wrong_token_does_not_log_in(web: Any) -> None:
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"token": TOKEN + "x", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 401 and "not the login token" in r.text
    assert web.get("/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_httponly_samesite_strict_and_signed(h: Any, web: Any) -> None:
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"token": TOKEN, "csrf": csrf}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert TOKEN.lower() not in cookie  # the token itself never travels back
    assert web.get("/").status_code == 200
    # a session of another token (another home, or a token made anew) is no session here
    from starlette.testclient import TestClient

    other = TestClient(create_app(HarnessSource(h), "another-token"), base_url="http://127.0.0.1")
    page = other.get("/login")
    other.post("/login", data={"token": "another-token", "csrf": csrf_of(page.text)})
    assert other.get("/", follow_redirects=False).status_code == 200
    web.cookies.clear()
    web.cookies.set("avflow_session", other.cookies["avflow_session"])
    assert web.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_age_though_its_cookie_was_checked_before(
    h: Any, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import types

    from avflow.dashboard import session
    from avflow.dashboard.web import SESSION_HOURS

    log_in(web)
    assert web.get("/", follow_redirects=False).status_code == 200  # its signature checked now
    later = time.time() + SESSION_HOURS * 3600 + 5
    monkeypatch.setattr(session, "time", types.SimpleNamespace(time=lambda: later))
    assert web.get("/", follow_redirects=False).status_code == 303
    monkeypatch.undo()  # back in its time: its signature checked anew, and good
    assert web.get("/", follow_redirects=False).status_code == 200
    # a cookie damaged after the signature (a byte changed) is no session, checked or not
    log_in(web)
    good = web.cookies["avflow_session"]
    # the signature's first character (its last one holds 2 bits only: 'A' for 'B' may not change it)
    at = good.rindex(".") + 1
    changed = good[:at] + ("A" if good[at] != "A" else "B") + good[at + 1 :]
    for damaged in (changed, good + "x", "x" + good):
        web.cookies.clear()
        web.cookies.set("avflow_session", damaged)
        assert web.get("/", follow_redirects=False).status_code == 303, damaged
    web.cookies.set("avflow_session", good)
    assert web.get("/", follow_redirects=False).status_code == 200


def test_logging_out_ends_the_session_and_its_cookie(h: Any, web: Any) -> None:
    csrf = log_in(web)
    r = web.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "avflow_session=null" in r.headers["set-cookie"]
    assert "1970" in r.headers["set-cookie"]
    assert web.get("/", follow_redirects=False).status_code == 303


def test_a_cookie_copied_before_logging_out_is_refused_after_it(h: Any, web: Any) -> None:
    """Logging out ends the session server-side: a copy of its cookie (another browser, a stolen
    one) no longer answers, not even after a restart of the dashboard; other sessions go on."""
    csrf = log_in(web)
    copied = web.cookies["avflow_session"]
    other = make_client(h)
    log_in(other)
    assert web.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    thief = make_client(h)
    thief.cookies.set("avflow_session", copied)
    assert thief.get("/", follow_redirects=False).status_code == 303
    assert thief.get("/", headers={"HX-Request": "true"}).status_code == 401
    assert other.get("/", follow_redirects=False).status_code == 200  # its own session
    restarted = make_client(h)  # a new dashboard on the same home folder
    restarted.cookies.set("avflow_session", copied)
    assert restarted.get("/", follow_redirects=False).status_code == 303
    assert (h.home / "dashboard-sessions-ended").stat().st_mode & 0o777 == 0o600
    log_in(restarted)  # logging in again gives a new session, which answers
    assert restarted.get("/", follow_redirects=False).status_code == 200


def test_a_session_without_an_id_is_refused(h: Any) -> None:
    """A cookie signed before sessions had ids (so logging out could not end it) logs in again."""
    import base64
    import json

    import itsdangerous

    from avflow.dashboard.security import session_key

    web = make_client(h)
    data = base64.b64encode(json.dumps({"auth": True, "scope": None, "csrf": "x" * 32}).encode())
    signed = itsdangerous.TimestampSigner(session_key(TOKEN)).sign(data).decode()
    web.cookies.set("avflow_session", signed)
    assert web.get("/", follow_redirects=False).status_code == 303


def test_https_sessions_are_secure_cookies(h: Any) -> None:
    web = make_client(h, https=True)
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"token": TOKEN, "csrf": csrf}, follow_redirects=False)
    assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "headers, data",
    [
        ({}, {}),  # no CSRF token
        ({}, {"csrf": "wrong-token-wrong-token"}),
        ({"X-CSRF-Token": "wrong-token-wrong-token"}, {}),
        ({"Origin": "http://evil.example"}, None),  # the right token, from another site
        ({"Sec-Fetch-Site": "cross-site"}, None),
        ({"Origin": "null"}, None),
    ],
)
def test_a_cross_site_post_is_refused(h: Any, headers: dict[str, str], data: Any) -> None:
    h.client("acme")
    web = make_client(h)
    csrf = log_in(web)
    form = {"csrf": csrf} if data is None else data
    _, posts = _paths(h)
    for path in [*posts, "/logout"]:
        r = web.post(path, data=form, headers=headers, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
    assert web.get("/").status_code == 200  # still logged in: the refused logout did nothing
    # the login form is protected too (login CSRF)
    fresh = make_client(h)
    r = fresh.post(
        "/login", data={"token": TOKEN, **({} if data is None else data)}, headers=headers
    )
    assert r.status_code == 403


def test_the_right_csrf_token_is_accepted_by_header_and_by_field(h: Any) -> None:
    web = make_client(h)
    csrf = log_in(web)
    r = web.post(
        "/logout",
        headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert web.get("/", follow_redirects=False).status_code == 303  # logged out
    csrf = log_in(web)
    r = web.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303


def test_another_host_name_is_refused(h: Any, logged: Any) -> None:
    r = logged.get("/", headers={"Host": "evil.example"})  # DNS rebinding
    assert r.status_code == 400
    # the loopback names, with a port or not, are let through (and remembered) ...
    for host in ("127.0.0.1", "localhost:8765", "[::1]:8765", "127.0.0.1:8765", "localhost"):
        assert logged.get("/", headers={"Host": host}).status_code == 200, host
    # ... and names that only look like them are refused, after them as before
    for host in ("127.0.0.1.evil.example", "evil.example:8765", "localhost.", "[::2]:8765"):
        assert logged.get("/", headers={"Host": host}).status_code == 400, host


def test_the_configured_loopback_host_is_answered_and_only_it(h: Any) -> None:
    """``dashboard.host`` on loopback other than 127.0.0.1 (127.0.0.2, an IPv6 form of ::1):
    its own name is answered too, with a port or without; other hosts are still refused."""
    from avflow.dashboard.server import allowed_hosts

    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("0.0.0.0") == ["*"]  # not loopback: under TLS, any name
    for setting, names in (
        ("127.0.0.2", ("127.0.0.2", "127.0.0.2:8765")),
        ("0:0:0:0:0:0:0:1", ("[0:0:0:0:0:0:0:1]", "[0:0:0:0:0:0:0:1]:8765")),
        ("[::1]", ("[::1]", "[::1]:8765")),
    ):
        web = make_client(h, hosts=allowed_hosts(setting))
        for host in names:
            assert web.get("/login", headers={"Host": host}).status_code == 200, host
        for host in ("127.0.0.3", "127.0.0.3:8765", "evil.example", "[::2]:8765", "127.0.0.2."):
            assert web.get("/login", headers={"Host": host}).status_code == 400, (setting, host)


def test_security_headers(logged: Any) -> None:
    r = logged.get("/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "unsafe" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


def test_the_token_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        token, new = load_token(tmp_path)
    finally:
        os.umask(old)
    assert new and len(token) >= 40
    mode = stat.S_IMODE((tmp_path / "dashboard-token").stat().st_mode)
    assert mode == 0o600
    again, new2 = load_token(tmp_path)
    assert again == token and not new2
    os.chmod(tmp_path / "dashboard-token", 0o644)
    load_token(tmp_path)
    assert stat.S_IMODE((tmp_path / "dashboard-token").stat().st_mode) == 0o600


def test_a_canary_secret_never_appears_in_any_page(h: Any) -> None:
    from avflow import redact

    canary = "CanarY-7f3e9a1c-secret"
    # the value in the vault, and (carelessly) in the profile's display name as well
    h.client("acme", {"name": f"Acme {canary}", "timezone": "Europe/Rome"})
    h.secret("acme", "mail_password", canary)
    h.workflow(
        "acme",
        "leaky",
        {
            "name": "Leaky",
            "on": {"schedule": [{"cron": "0 * * * *"}]},
            "steps": [
                {"id": "a", "uses": "core.log", "with": {"message": "${secret:mail_password}"}},
                {
                    "id": "b",
                    "uses": "core.fail",
                    "with": {"message": "bad ${secret:mail_password}"},
                },
            ],
        },
    )
    run = h.run("acme/leaky")
    assert run.status == "failed"
    redact.forget_all()  # the dashboard process may never have seen the value
    web = make_client(h)
    log_in(web)
    gets, _ = _paths(h)
    gets += [f"/clients/acme/runs/{run.id}", "/clients/acme/runs?workflow=leaky"]
    for path in gets:
        for headers in ({}, {"HX-Request": "true"}):
            r = web.get(path, headers=headers)
            assert r.status_code == 200, path
            assert canary not in r.text and canary.lower() not in r.text.lower(), path
    for asset in ("/static/dashboard.css", "/static/htmx.min.js", "/static/login.js"):
        assert canary not in web.get(asset).text


def test_a_huge_or_unmeasured_form_is_refused_before_it_is_read(h: Any) -> None:
    web = make_client(h)
    csrf = log_in(web)
    big = {"csrf": csrf, "reason": "x" * 70_000}
    assert web.post("/logout", data=big).status_code == 413
    chunked = web.post(
        "/logout",
        content=iter([f"csrf={csrf}".encode()]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert web.get("/").status_code == 200  # still logged in
