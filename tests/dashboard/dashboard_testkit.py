"""Helpers of the dashboard tests (imported by this name: a bare ``conftest`` import is ambiguous)."""

from __future__ import annotations

import re
from typing import Any

TOKEN = "test-login-token-0123456789abcdef"


class HarnessSource:
    """The dashboard's `Source` over a harness: its current app (rebuilt when files change)."""

    def __init__(self, h: Any) -> None:
        self.h = h

    @property
    def app(self) -> Any:
        return self.h.app

    @property
    def project(self) -> Any:
        return self.h.app.project


def make_client(h: object, **kwargs: object) -> object:
    """A TestClient on the dashboard of ``h`` (not logged in)."""
    from starlette.testclient import TestClient

    from avflow.dashboard.web import create_app

    app = create_app(HarnessSource(h), TOKEN, **kwargs)
    return TestClient(app, base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def log_in(client: object) -> str:
    """Log ``client`` in with the token; returns the session's CSRF token."""
    page = client.get("/login")  # type: ignore[attr-defined]
    r = client.post(  # type: ignore[attr-defined]
        "/login", data={"token": TOKEN, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)  # type: ignore[attr-defined]
