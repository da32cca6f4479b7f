"""XOAUTH2 access tokens: a refresh token from the client's vault, refreshed with google-auth.

google-auth's refresh is a plain OAuth 2.0 ``refresh_token`` grant against ``token_uri``, so the
same code serves Google and Microsoft 365 (give its token endpoint and scopes). Access tokens are
kept in memory only, per process, until shortly before they expire.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import avflow
from avflow_email.imap_settings import OAuthSettings

_cache: dict[str, tuple[str, datetime | None]] = {}
_lock = threading.Lock()


def _key(o: OAuthSettings) -> str:
    return hashlib.sha256(f"{o.token_uri}\0{o.client_id}\0{o.refresh_token}".encode()).hexdigest()


def access_token(o: OAuthSettings, *, force: bool = False) -> str:
    """A valid access token: cached, given in the settings, or freshly refreshed."""
    key = _key(o)
    with _lock:
        cached = _cache.get(key)
        now = datetime.now(UTC)
        if cached and not force and (cached[1] is None or cached[1] - timedelta(seconds=60) > now):
            return cached[0]
        if o.access_token and not force and cached is None:
            _cache[key] = (o.access_token, None)
            return o.access_token
        token, expiry = refresh(o)
        _cache[key] = (token, expiry)
        return token


def refresh(o: OAuthSettings) -> tuple[str, datetime | None]:
    import google.auth.exceptions
    import google.auth.transport.requests
    import google.oauth2.credentials

    creds = google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=o.refresh_token,
        token_uri=o.token_uri,
        client_id=o.client_id,
        client_secret=o.client_secret,
        scopes=o.scopes or None,
    )
    try:
        creds.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.RefreshError as exc:
        reason = exc.args[0] if exc.args else exc
        raise avflow.StepFailed(
            f"OAuth token refresh at {o.token_uri} failed: {reason}; "
            "sign in again to get a new refresh token"
        ) from None
    except google.auth.exceptions.TransportError as exc:
        raise avflow.StepFailed(f"OAuth token endpoint {o.token_uri} unreachable: {exc}") from None
    expiry = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None
    return str(creds.token), expiry


def forget(o: OAuthSettings) -> None:
    """Drop a cached token the server refused, so the next login refreshes it."""
    with _lock:
        _cache.pop(_key(o), None)
