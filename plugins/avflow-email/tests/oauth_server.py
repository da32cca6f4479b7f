"""A local OAuth 2.0 token endpoint (refresh grant) and token introspection endpoint.

google-auth refreshes tokens against ``/token``; Dovecot's oauth2 passdb checks the access tokens
IMAP clients present (XOAUTH2) against ``/introspect``. Requests are checked; failures are real
OAuth error responses.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class TokenServer:
    def __init__(self) -> None:
        self.client_id, self.client_secret = "avflow-test-client", "s3cret-client"
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.access_tokens: dict[str, str] = {}  # access token -> user
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                server.requests.append({"path": self.path, **form})
                if self.path == "/token":
                    self._token(form)
                elif self.path.startswith("/introspect"):
                    user = server.access_tokens.get(form.get("token", ""))
                    self._reply(
                        200, {"active": True, "username": user} if user else {"active": False}
                    )
                else:
                    self._reply(404, {"error": "not_found"})

            def _token(self, form: dict[str, str]) -> None:
                if form.get("grant_type") != "refresh_token":
                    return self._reply(400, {"error": "unsupported_grant_type"})
                if (form.get("client_id"), form.get("client_secret")) != (
                    server.client_id,
                    server.client_secret,
                ):
                    return self._reply(401, {"error": "invalid_client"})
                user = server.refresh_tokens.get(form.get("refresh_token", ""))
                if user is None:
                    return self._reply(
                        400,
                        {"error": "invalid_grant", "error_description": "Token has been revoked."},
                    )
                token = f"at-{uuid.uuid4().hex}"
                server.access_tokens[token] = user
                return self._reply(
                    200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def dovecot_passdb(self, folder: Any) -> str:
        """Dovecot configuration: an oauth2 passdb that introspects tokens here."""
        conf = folder / "dovecot-oauth2.conf.ext"
        conf.write_text(
            f"introspection_mode = post\nintrospection_url = {self.url}/introspect\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        return f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {conf}\n}}\n"

    def stop(self) -> None:
        self.httpd.shutdown()
