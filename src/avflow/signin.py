"""OAuth 2.0 sign-in for an installed app: authorization code, PKCE and a loopback redirect.

The flow of RFC 8252 (and of Google's and Microsoft's desktop-app guides): a one-time listener on
``http://127.0.0.1:<free port>/`` is the redirect URI; the AV opens the provider's consent page,
the provider redirects the browser back to the listener with a code and the state sent, and the
code is exchanged, with the PKCE verifier (S256), for a refresh token. Nothing here prints or logs
a token: `sign_in` hands the tokens back to the caller, which stores them in the client's vault.

This module is provider-neutral (`Provider` names the endpoints); the scopes asked for come from
the plugins (`avflow.OAuthScopes`): one Google sign-in per client covers every scope the
client's accounts use (Gmail, Calendar, Drive).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from avflow.errors import AvflowError

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SigninError(AvflowError):
    """A sign-in that did not end with a refresh token: one line, exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Provider:
    """Where an OAuth provider's consent page and token endpoint are."""

    name: str
    auth_uri: str
    token_uri: str
    scopes: tuple[str, ...]
    auth_params: Mapping[str, str] = field(default_factory=dict)


def google(scopes: tuple[str, ...] = ()) -> Provider:
    """Google: offline access and a consent prompt, so a refresh token is always returned."""
    return Provider(
        "google",
        GOOGLE_AUTH_URI,
        GOOGLE_TOKEN_URI,
        scopes,
        {"access_type": "offline", "prompt": "consent"},
    )


def microsoft(tenant: str = "common", scopes: tuple[str, ...] = ()) -> Provider:
    """Microsoft identity platform (Microsoft 365, Outlook.com) for one tenant."""
    base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
    wanted = scopes
    if "offline_access" not in wanted:  # without it Microsoft returns no refresh token
        wanted = (*wanted, "offline_access")
    return Provider("microsoft", f"{base}/authorize", f"{base}/token", wanted)


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint granted (never printed)."""

    refresh_token: str
    access_token: str | None
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Tokens(scopes={self.scopes!r})"


def one_line(text: object, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_endpoint(label: str, url: str) -> None:
    """Only https, except for a provider on this machine (a test or a local proxy)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise SigninError(f"{label} {url!r} must be an https:// address")


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (43-128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>avflow</title>"
    "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p></body>"
)


class _Listener(ThreadingHTTPServer):
    """The loopback redirect target: keeps the query of the first answer to ``/``.

    Threaded, so a connection a browser opens ahead of time and never uses (Chrome's preconnect)
    does not hold up the real answer.
    """

    daemon_threads = True
    answer: dict[str, str] | None = None
    answered: threading.Event

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answered = threading.Event()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    timeout = 30  # seconds a connection may stay silent

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
        pass

    def _page(self, code: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path != "/" or not ({"code", "error"} & query.keys()):
            self._page(404, "Not found", "This address only receives the sign-in answer.")
            return
        with self.server.lock:
            first = self.server.answer is None
            if first:
                self.server.answer = query
        if "error" in query:
            self._page(200, "Sign-in refused", "avflow did not get access. You can close this tab.")
        else:
            self._page(200, "Signed in", "avflow has the answer. You can close this tab.")
        if first:
            self.server.answered.set()


def wait_for_answer(listener: _Listener, timeout: float) -> dict[str, str]:
    serving = threading.Thread(target=listener.serve_forever, args=(0.2,), daemon=True)
    serving.start()
    try:
        if not listener.answered.wait(timeout) or listener.answer is None:
            raise SigninError(
                f"no answer from the browser within {timeout:g} s: sign-in abandoned "
                "(run the command again and finish the sign-in in time)"
            )
        return listener.answer
    finally:
        listener.shutdown()


def exchange(
    provider: Provider, form: dict[str, str], *, http_timeout: float = 30
) -> dict[str, Any]:
    """POST the authorization-code grant; a refusal is a `SigninError` naming the reason."""
    import requests

    try:
        reply = requests.post(
            provider.token_uri,
            data=form,
            headers={"Accept": "application/json"},
            timeout=http_timeout,
        )
    except requests.RequestException as exc:
        raise SigninError(
            f"cannot reach the token endpoint {provider.token_uri}: {one_line(exc)}"
        ) from None
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if reply.status_code != 200:
        reason = body.get("error") or f"HTTP {reply.status_code}"
        detail = body.get("error_description")
        raise SigninError(
            f"the token endpoint {provider.token_uri} refused the sign-in: {reason}"
            + (f" ({one_line(detail)})" if detail else "")
        )
    return body


def sign_in(
    provider: Provider,
    client_id: str,
    client_secret: str | None,
    *,
    say: Callable[[str], None],
    open_browser: bool = True,
    timeout: float = 300,
) -> Tokens:
    """Run the whole flow; `say` shows the address to open (it holds no secret)."""
    check_endpoint("authorization endpoint", provider.auth_uri)
    check_endpoint("token endpoint", provider.token_uri)
    if not client_id.strip():
        raise SigninError("the OAuth client id is empty")
    listener = _Listener()
    try:
        redirect_uri = f"http://127.0.0.1:{listener.server_address[1]}/"
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        url = _authorization_url(provider, client_id, redirect_uri, state, challenge)
        say(f"Open this address in a browser and sign in:\n\n    {url}\n")
        if open_browser:
            import contextlib
            import webbrowser

            with contextlib.suppress(Exception):  # the printed address is enough
                webbrowser.open(url)
        say(f"Waiting up to {timeout:g} s for the browser to come back to {redirect_uri} ...")
        answer = wait_for_answer(listener, timeout)
    finally:
        listener.server_close()
    _check_answer(provider, answer, state)
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    if client_secret:
        form["client_secret"] = client_secret
    return _tokens(provider, exchange(provider, form))


def _authorization_url(
    provider: Provider, client_id: str, redirect_uri: str, state: str, challenge: str
) -> str:
    """The address the AV opens to sign in (authorization code with PKCE, RFC 7636)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **provider.auth_params,
    }
    sep = "&" if urlsplit(provider.auth_uri).query else "?"
    return provider.auth_uri + sep + urlencode(params)


def _check_answer(provider: Provider, answer: dict[str, str], state: str) -> None:
    """The browser's answer must be for this sign-in, and not a refusal."""
    if not secrets.compare_digest(answer.get("state", ""), state):
        raise SigninError("the answer's state does not match this sign-in: nothing was stored")
    if "error" in answer:
        detail = answer.get("error_description")
        hint = " (consent was not given)" if answer["error"] == "access_denied" else ""
        raise SigninError(
            f"{provider.name} refused the sign-in: {one_line(answer['error'])}{hint}"
            + (f": {one_line(detail)}" if detail else "")
        )


def _tokens(provider: Provider, body: dict[str, Any]) -> Tokens:
    """The tokens of the token endpoint's answer; one without a refresh token is refused."""
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise SigninError(
            f"{provider.name} granted no refresh token (for Microsoft, include the "
            "offline_access scope; for Google, remove avflow's access and sign in again)"
        )
    access = body.get("access_token")
    granted = tuple(str(body.get("scope") or " ".join(provider.scopes)).split())
    return Tokens(refresh, access if isinstance(access, str) else None, granted)
