"""XOAUTH2: google-auth refreshes the token at a local token endpoint; Dovecot checks the token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from email_testkit import ImapBox, make_mail, setup_client

RULES = [{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}]


def _oauth_box(dovecot: Any, token_server: Any, refresh: str, access: str | None = None) -> ImapBox:
    box = ImapBox(dovecot)
    box.account.pop("password")
    box.account.update(
        auth="xoauth2",
        oauth={
            "token_uri": f"{token_server.url}/token",
            "client_id": token_server.client_id,
            "client_secret": "${secret:oauth_client}",
            "refresh_token": "${secret:oauth_refresh}",
            **({"access_token": access} if access else {}),
        },
    )
    return box


def _secrets(h: Any, token_server: Any, refresh: str) -> None:
    h.secret("acme", "oauth_client", token_server.client_secret)
    h.secret("acme", "oauth_refresh", refresh)


def test_refresh_and_login(avflow_harness, dovecot, token_server) -> None:  # type: ignore[no-untyped-def]
    refresh = f"rt-{uuid.uuid4().hex}"
    box = _oauth_box(dovecot, token_server, refresh)
    token_server.refresh_tokens[refresh] = box.user
    box.add(make_mail("Fattura 1", mid="<o1@t>"))
    setup_client(avflow_harness, box, rules=RULES)
    _secrets(avflow_harness, token_server, refresh)
    before = len(token_server.requests)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert set(box.contents("Fatture")) == {"<o1@t>"}
    calls = token_server.requests[before:]
    grants = [c for c in calls if c["path"] == "/token"]
    assert len(grants) == 1 and grants[0]["refresh_token"] == refresh
    assert grants[0]["client_secret"] == token_server.client_secret
    assert any(c["path"].startswith("/introspect") for c in calls)  # Dovecot checked the token
    # The access token is reused while valid: a second run asks for no new one.
    avflow_harness.run("acme/triage")
    assert len([c for c in token_server.requests[before:] if c["path"] == "/token"]) == 1
    assert refresh not in str(result.audit)


def test_a_rejected_access_token_is_refreshed_once(avflow_harness, dovecot, token_server) -> None:  # type: ignore[no-untyped-def]
    refresh = f"rt-{uuid.uuid4().hex}"
    box = _oauth_box(dovecot, token_server, refresh, access="expired-token")
    token_server.refresh_tokens[refresh] = box.user
    box.add(make_mail("Fattura 2", mid="<o2@t>"))
    setup_client(avflow_harness, box, rules=RULES)
    _secrets(avflow_harness, token_server, refresh)
    result = avflow_harness.run("acme/triage")
    assert result.status == "succeeded", result.error
    assert set(box.contents("Fatture")) == {"<o2@t>"}


def test_revoked_refresh_token_is_one_clear_line(avflow_harness, dovecot, token_server) -> None:  # type: ignore[no-untyped-def]
    box = _oauth_box(dovecot, token_server, "rt-revoked")
    setup_client(avflow_harness, box, rules=RULES)
    _secrets(avflow_harness, token_server, f"rt-revoked-{uuid.uuid4().hex}")
    result = avflow_harness.run("acme/triage")
    assert result.status == "failed"
    assert "token refresh" in result.error and "invalid_grant" in result.error
    assert "\n" not in result.error


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_forward_through_smtp_with_xoauth2(avflow_harness, dovecot, token_server) -> None:  # type: ignore[no-untyped-def]
    import base64

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from dovecot import free_port

    logins: list[str] = []
    received: list[bytes] = []

    class Handler:
        async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
            raw = base64.b64decode(args[1]).decode()
            user, auth = raw.split("\x01")[:2]
            ok = token_server.access_tokens.get(
                auth.removeprefix("auth=Bearer ")
            ) == user.removeprefix("user=")
            logins.append(raw.split("\x01")[0])
            return AuthResult(success=ok)

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            assert session.authenticated
            received.append(envelope.content)
            return "250 OK"

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    try:
        refresh = f"rt-{uuid.uuid4().hex}"
        box = _oauth_box(dovecot, token_server, refresh)
        token_server.refresh_tokens[refresh] = box.user
        box.account["smtp"] = {"host": "127.0.0.1", "port": port, "security": "none"}
        box.add(make_mail("Urgente", mid="<ox@t>"))
        setup_client(
            avflow_harness,
            box,
            rules=[
                {
                    "name": "fwd",
                    "match": {"subject": "urgente"},
                    "actions": [{"forward": "boss@acme.example"}],
                }
            ],
        )
        _secrets(avflow_harness, token_server, refresh)
        result = avflow_harness.run("acme/triage")
        assert result.status == "succeeded", result.error
        assert logins == [f"user={box.user}"] and len(received) == 1
    finally:
        controller.stop()
