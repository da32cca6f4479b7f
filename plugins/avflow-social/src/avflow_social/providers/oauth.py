"""OAuth 2 bearer tokens that expire: refreshed on a 401, kept in the plugin's data folder.

A refresh never loses the refresh token (a token endpoint that answers without one leaves the
stored one in place), a transient refresh error (5xx, 429, a timeout) is retried, and a refused
refresh token fails the post with the command that reconnects the channel.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avflow_social.provider import AuthExpired, ProviderError, Target

if TYPE_CHECKING:  # httpx is imported when a request is sent, not when the plugin loads
    import httpx


class Tokens:
    """The channel's current tokens: the account's, or the ones a refresh stored since."""

    def __init__(self, target: Target, reconnect: str) -> None:
        s = target.settings
        self.target, self.reconnect = target, reconnect
        self.path = Path(target.state_dir) / "tokens" / f"{target.client.id}.{target.name}.json"
        # Tokens stored from an older refresh token are dropped once the AV reconnects.
        self.origin = hashlib.sha256((s.refresh_token or "").encode()).hexdigest()[:16]
        self.access, self.refresh = s.access_token, s.refresh_token
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("origin") == self.origin:
            self.access, self.refresh = (
                saved["access_token"],
                saved.get("refresh_token") or self.refresh,
            )

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {"origin": self.origin, "access_token": self.access, "refresh_token": self.refresh},
                f,
            )
        os.replace(tmp, self.path)

    def renew(self, http: httpx.Client) -> None:
        """Refresh the access token, retrying transient failures; AuthExpired when refused."""
        import httpx

        s = self.target.settings
        if not self.refresh:
            raise AuthExpired(
                "the access token was refused and there is no refresh token; "
                f"reconnect the channel: {self.reconnect}"
            )
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh,
                "client_id": s.client_id or "", "client_secret": s.client_secret or ""}  # fmt: skip
        for attempt in range(3):
            try:
                resp = http.post(s.token_url, data=form)
            except httpx.TransportError:
                resp = None
            if resp is not None and resp.is_success:
                body = resp.json()
                self.access = body["access_token"]
                self.refresh = body.get("refresh_token") or self.refresh  # never lose it
                self._save()
                return
            if resp is not None and resp.status_code < 500 and resp.status_code != 429:
                raise AuthExpired(
                    f"the refresh token was refused ({resp.status_code}); "
                    f"reconnect the channel: {self.reconnect}"
                )
            time.sleep(0.5 * (attempt + 1))
        raise ProviderError("the token endpoint is unavailable; tried 3 times", sent=False)

    def send(self, http: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
        """A request with the bearer token; on 401 the token is refreshed and it is sent again."""
        headers = dict(kw.pop("headers", {}) or {})
        resp = http.request(
            method, url, headers={**headers, "Authorization": f"Bearer {self.access}"}, **kw
        )
        if resp.status_code != 401:
            return resp
        self.renew(http)
        return http.request(
            method, url, headers={**headers, "Authorization": f"Bearer {self.access}"}, **kw
        )
