"""``avflow auth``: the real CLI in a subprocess, a local OAuth provider, the test as the browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from email_testkit import ImapBox, make_mail, triage_workflow
from signin_provider import SigninProvider

from avflow.vault import Vault

RULES = [{"name": "inv", "match": {"subject": "fattura"}, "actions": [{"move": "Fatture"}]}]


@pytest.fixture
def provider() -> Iterator[SigninProvider]:
    p = SigninProvider()
    yield p
    p.stop()


class SignIn:
    """One ``avflow auth`` process; the test reads the address it prints and plays the browser."""

    def __init__(self, harness: Any, provider: SigninProvider, *args: str, stdin: str = "") -> None:
        self.provider = provider
        env = {**os.environ, "AVFLOW_HOME": str(harness.home), "PYTHONUNBUFFERED": "1"}
        env.pop("AVFLOW_VAULT_KEY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "avflow",
                "--workflows",
                str(harness.workflows),
                "--home",
                str(harness.home),
                "auth",
                *args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it again
        self.printed: list[str] = []

    def address(self) -> str:
        """The consent-page address the command printed."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.printed.append(line)
            if line.strip().startswith(f"{self.provider.url}/authorize?"):
                return line.strip()
        self.proc.wait(timeout=60)
        assert self.proc.stderr is not None
        raise AssertionError(f"no address printed: {self.printed} {self.proc.stderr.read()}")

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, "".join(self.printed) + out, err


def _args(provider: SigninProvider, *extra: str, command: str = "google") -> list[str]:
    return [
        command,
        "acme",
        "gmail_refresh",
        "--client-id",
        provider.client_id,
        "--client-secret-name",
        "app_secret",
        "--no-browser",
        "--auth-uri",
        f"{provider.url}/authorize",
        "--token-uri",
        f"{provider.url}/token",
        *extra,
    ]


def _redirect_uri(address: str) -> str:
    return parse_qs(urlsplit(address).query)["redirect_uri"][0]


MAILBOXES = {  # `avflow auth` asks for the scopes the client's accounts need
    "gmail": {
        "type": "imap",
        "host": "imap.gmail.com",
        "username": "studio@gmail.com",
        "auth": "xoauth2",
        "oauth": {"client_id": "x", "refresh_token": "${secret:gmail_refresh}"},
    },
    "outlook": {
        "type": "imap",
        "host": "outlook.office365.com",
        "username": "s@acme.example",
        "auth": "xoauth2",
        "oauth": {"client_id": "x", "refresh_token": "${secret:ms_refresh}"},
    },
}


def _client(harness: Any, accounts: dict[str, Any] | None = None) -> None:
    harness.client("acme", name="Acme", timezone="Europe/Rome", accounts=accounts or MAILBOXES)


def _secret_names(harness: Any) -> list[str]:
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "avflow",
            "--workflows",
            str(harness.workflows),
            "--home",
            str(harness.home),
            "secrets",
            "list",
            "acme",
        ],
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.split()


def _in_clear(home: Path, *values: str) -> list[str]:
    return [
        str(p)
        for p in home.rglob("*")
        if p.is_file() and any(v.encode() in p.read_bytes() for v in values)
    ]


def _one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_google_sign_in_stores_the_refresh_token(
    avflow_harness: Any, provider: SigninProvider
) -> None:
    _client(avflow_harness)
    avflow_harness.secret("acme", "app_secret", provider.client_secret)
    run = SignIn(avflow_harness, provider, *_args(provider, "--timeout", "30"))
    address = run.address()
    # A browser's speculative connection that never sends a request must not hold up the answer.
    idle = socket.create_connection(("127.0.0.1", urlsplit(_redirect_uri(address)).port or 0))
    browser = requests.get(address, timeout=10)  # follows the redirect to the loopback
    idle.close()
    assert browser.status_code == 200 and "Signed in" in browser.text
    assert browser.url.startswith("http://127.0.0.1:") and "code=" in browser.url
    code, out, err = run.finish()
    assert code == 0, err
    asked = provider.authorize_requests[-1]
    assert asked["scope"] == "https://mail.google.com/"
    assert (asked["access_type"], asked["prompt"]) == ("offline", "consent")
    grant = provider.token_requests[-1]
    assert grant["grant_type"] == "authorization_code" and grant["code_verifier"]
    (refresh,) = provider.issued
    assert Vault(avflow_harness.home).get("acme", "gmail_refresh") == refresh
    assert _secret_names(avflow_harness) == ["app_secret", "gmail_refresh"]
    assert "secret 'gmail_refresh' of client 'acme'" in out
    assert 'refresh_token: "${secret:gmail_refresh}"' in out
    for value in (refresh, provider.client_secret, grant["code"], grant["code_verifier"]):
        assert value not in out and value not in err
    assert _in_clear(avflow_harness.home, refresh, provider.client_secret) == []


def test_the_client_secret_is_asked_for_and_kept(
    avflow_harness: Any, provider: SigninProvider
) -> None:
    _client(avflow_harness)
    run = SignIn(
        avflow_harness,
        provider,
        *_args(provider, "--scope", "openid", "--scope", "mail", command="oauth"),
        stdin=provider.client_secret + "\n",
    )
    requests.get(run.address(), timeout=10)
    code, out, err = run.finish()
    assert code == 0, err
    assert provider.authorize_requests[-1]["scope"] == "openid mail"
    assert "access_type" not in provider.authorize_requests[-1]
    vault = Vault(avflow_harness.home)
    assert vault.get("acme", "app_secret") == provider.client_secret
    assert vault.get("acme", "gmail_refresh") in provider.issued
    assert provider.client_secret not in out + err
    assert _in_clear(avflow_harness.home, provider.client_secret) == []


def test_microsoft_asks_for_offline_access(avflow_harness: Any, provider: SigninProvider) -> None:
    _client(avflow_harness)
    avflow_harness.secret("acme", "app_secret", provider.client_secret)
    run = SignIn(
        avflow_harness,
        provider,
        *_args(provider, "--tenant", "contoso.onmicrosoft.com", command="microsoft"),
    )
    requests.get(run.address(), timeout=10)
    code, out, err = run.finish()
    assert code == 0, err
    scopes = provider.authorize_requests[-1]["scope"].split()
    assert "offline_access" in scopes
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in scopes
    assert "scopes: [" in out and "offline_access" in out


def test_consent_denied(avflow_harness: Any, provider: SigninProvider) -> None:
    _client(avflow_harness)
    avflow_harness.secret("acme", "app_secret", provider.client_secret)
    provider.consent = False
    run = SignIn(avflow_harness, provider, *_args(provider))
    page = requests.get(run.address(), timeout=10)
    assert "refused" in page.text
    code, _, err = run.finish()
    _one_line_error(code, err)
    assert "access_denied (consent was not given)" in err
    assert provider.token_requests == []
    assert _secret_names(avflow_harness) == ["app_secret"]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        ("expired", "refused the sign-in: invalid_grant (Bad Request)"),
        ("wrong_secret", "refused the sign-in: invalid_client (Unauthorized)"),
    ],
)
def test_token_endpoint_refuses(
    avflow_harness: Any, provider: SigninProvider, break_it: str, expected: str
) -> None:
    _client(avflow_harness)
    secret = "not-the-secret" if break_it == "wrong_secret" else provider.client_secret
    avflow_harness.secret("acme", "app_secret", secret)
    provider.code_lifetime_ok = break_it != "expired"
    run = SignIn(avflow_harness, provider, *_args(provider))
    requests.get(run.address(), timeout=10)
    code, _, err = run.finish()
    _one_line_error(code, err)
    assert f"the token endpoint {provider.url}/token {expected}" in err
    assert _secret_names(avflow_harness) == ["app_secret"]


def test_bad_client_id_ends_in_a_timeout(avflow_harness: Any, provider: SigninProvider) -> None:
    _client(avflow_harness)
    avflow_harness.secret("acme", "app_secret", provider.client_secret)
    args = _args(provider, "--timeout", "1.5")
    args[args.index("--client-id") + 1] = "no-such-app"
    run = SignIn(avflow_harness, provider, *args)
    page = requests.get(run.address(), timeout=10)  # the provider's error page: no redirect
    assert page.status_code == 400 and "invalid_client" in page.text
    code, _, err = run.finish()
    _one_line_error(code, err)
    assert "no answer from the browser within 1.5 s" in err


def test_an_answer_with_another_state_is_refused(
    avflow_harness: Any, provider: SigninProvider
) -> None:
    _client(avflow_harness)
    avflow_harness.secret("acme", "app_secret", provider.client_secret)
    run = SignIn(avflow_harness, provider, *_args(provider, "--timeout", "20"))
    loopback = _redirect_uri(run.address())
    requests.get(loopback, params={"code": "forged", "state": "forged"}, timeout=10)
    code, _, err = run.finish()
    _one_line_error(code, err)
    assert "state does not match" in err
    assert provider.token_requests == []


def test_usage_errors(avflow_harness: Any, provider: SigninProvider) -> None:
    _client(avflow_harness)
    cases = [
        ([*_args(provider)[:1], "nope", *_args(provider)[2:]], "unknown client 'nope'"),
        ([*_args(provider)[:2], "bad name!", *_args(provider)[3:]], "secret name 'bad name!'"),
        (
            [a.replace(provider.url, "http://auth.example") for a in _args(provider)],
            "must be an https:// address",
        ),
        (["oauth", "acme", "tok", "--client-id", "x", "--no-browser"], "needs --auth-uri"),
        (_args(provider), "the vault has no client secret 'app_secret' and none was typed"),
    ]
    for args, expected in cases:
        run = SignIn(avflow_harness, provider, *args)
        code, _, err = run.finish()
        _one_line_error(code, err)
        assert expected in err
    assert provider.authorize_requests == []
    assert not (avflow_harness.home / "vault" / "acme.json").exists()


def test_the_stored_token_logs_in_to_imap(
    avflow_harness: Any, dovecot: Any, token_server: Any
) -> None:
    """Sign in, then a triage run logs in to Dovecot with XOAUTH2 using the token from the vault."""
    box = ImapBox(dovecot)
    box.account.pop("password")
    box.account.update(
        auth="xoauth2",
        oauth={
            "token_uri": f"{token_server.url}/token",
            "client_id": token_server.client_id,
            "client_secret": "${secret:app_secret}",
            "refresh_token": "${secret:gmail_refresh}",
        },
    )
    provider = SigninProvider(shared=token_server, user=box.user)
    try:
        _client(avflow_harness, {"mail": box.account})
        avflow_harness.workflow("acme", "triage", triage_workflow(rules=RULES))
        avflow_harness.secret("acme", "app_secret", token_server.client_secret)
        box.add(make_mail("Fattura 7", mid=f"<{uuid.uuid4().hex}@t>"))
        # The account's token endpoint is this machine's, not Google's: name the scope.
        run = SignIn(
            avflow_harness, provider, *_args(provider, "--scope", "https://mail.google.com/")
        )
        requests.get(run.address(), timeout=10)
        code, _, err = run.finish()
        assert code == 0, err
        (refresh,) = provider.issued
        before = len(token_server.requests)
        result = avflow_harness.run("acme/triage")
        assert result.status == "succeeded", result.error
        assert len(box.contents("Fatture")) == 1
        grants = [r for r in token_server.requests[before:] if r["path"] == "/token"]
        assert [g["refresh_token"] for g in grants] == [refresh]
        assert any(r["path"].startswith("/introspect") for r in token_server.requests[before:])
        assert refresh not in str(result.audit)
    finally:
        provider.stop()
