"""A local OAuth 2.0 provider for ``avflow auth``: consent page and authorization-code grant.

``/authorize`` plays the consent page: for a known client id and a loopback redirect URI it
redirects the browser back with a code and the same state (or ``error=access_denied`` when the
user says no); for an unknown client id it shows an error page and does not redirect, as Google
does. ``/token`` checks the authorization-code grant the way a real provider does: client id and
secret, the code (once, unexpired), the same redirect URI, and the PKCE verifier against the
S256 challenge. Refresh tokens it grants are handed to the `TokenServer` given (the same provider's
refresh and introspection endpoints), so the IMAP login with them works end to end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class SigninProvider:
    def __init__(self, shared: Any | None = None, user: str = "studio@acme.example") -> None:
        self.client_id = shared.client_id if shared else "avflow-signin-client"
        self.client_secret = shared.client_secret if shared else "s3cret-app"
        self.shared = shared
        self.user = user
        self.consent = True  # what the user answers on the consent page
        self.code_lifetime_ok = True  # False: every code has expired by the time it is exchanged
        self.codes: dict[str, dict[str, str]] = {}
        self.issued: dict[str, str] = {}  # refresh token -> user
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str, **headers: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code: int, body: dict[str, Any]) -> None:
                self._send(code, json.dumps(body).encode(), "application/json")

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/authorize":
                    return self._send(404, b"not found", "text/plain")
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                provider.authorize_requests.append(q)
                redirect = q.get("redirect_uri", "")
                problems = []
                if q.get("client_id") != provider.client_id:
                    problems.append("invalid_client: The OAuth client was not found.")
                if not redirect.startswith("http://127.0.0.1:"):
                    problems.append("redirect_uri_mismatch")
                if q.get("response_type") != "code":
                    problems.append("unsupported_response_type")
                if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                    problems.append("PKCE S256 challenge missing")
                if not q.get("state"):
                    problems.append("state missing")
                if problems:  # an error page for the user; the app is not told
                    return self._send(400, "; ".join(problems).encode(), "text/html")
                if not provider.consent:
                    answer = {"error": "access_denied", "state": q["state"]}
                else:
                    code = f"code-{uuid.uuid4().hex}"
                    provider.codes[code] = {
                        "redirect_uri": redirect,
                        "challenge": q["code_challenge"],
                        "scope": q.get("scope", ""),
                    }
                    answer = {"code": code, "state": q["state"]}
                self._send(302, b"", "text/html", Location=f"{redirect}?{urlencode(answer)}")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(form)
                if self.path != "/token":
                    return self._json(404, {"error": "not_found"})
                if form.get("grant_type") != "authorization_code":
                    return self._json(400, {"error": "unsupported_grant_type"})
                if (form.get("client_id"), form.get("client_secret")) != (
                    provider.client_id,
                    provider.client_secret,
                ):
                    return self._json(
                        401, {"error": "invalid_client", "error_description": "Unauthorized"}
                    )
                grant = provider.codes.pop(form.get("code", ""), None)  # a code works once
                if grant is None or not provider.code_lifetime_ok:
                    return self._json(
                        400, {"error": "invalid_grant", "error_description": "Bad Request"}
                    )
                if form.get("redirect_uri") != grant["redirect_uri"]:
                    return self._json(400, {"error": "redirect_uri_mismatch"})
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                    return self._json(
                        400,
                        {"error": "invalid_grant", "error_description": "Invalid code verifier."},
                    )
                refresh = f"1//rt-{uuid.uuid4().hex}"
                provider.issued[refresh] = provider.user
                if provider.shared is not None:
                    provider.shared.refresh_tokens[refresh] = provider.user
                return self._json(
                    200,
                    {
                        "access_token": f"ya29.at-{uuid.uuid4().hex}",
                        "expires_in": 3599,
                        "refresh_token": refresh,
                        "scope": grant["scope"],
                        "token_type": "Bearer",
                    },
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
