"""Bluesky through the AT Protocol SDK (``atproto``): an app password, a session kept between
runs, images uploaded first with their alt text, links made clickable with facets.

Exactly once: each post is created with a record key derived from its ledger key (a valid TID),
so the PDS refuses a second record with that key, and a post whose answer was lost is found
again with ``com.atproto.repo.getRecord``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from avflow_social.provider import (
    AuthExpired,
    ChannelSettings,
    Outgoing,
    Provider,
    ProviderError,
    Published,
    RateLimited,
    Target,
)
from avflow_social.providers.redirects import httpx_hook

if TYPE_CHECKING:  # the SDK takes seconds to import: only when a post is sent or looked up
    from atproto import Client

POST = "app.bsky.feed.post"
_HOOKS = {"response": [httpx_hook]}  # a redirect to another host is refused, not followed
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# A link written in the text: made clickable by a facet (byte offsets in UTF-8). `regex` is
# imported when a post is counted or sent (it caches the compiled pattern), not with the plugin.
LINK = r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]"


class BlueskySettings(ChannelSettings):
    handle: str = Field(description="The account's handle, e.g. bloom.bsky.social.")
    app_password: str = Field(description='An app password: "${secret:bluesky}".')
    service: str = Field(default="https://bsky.social", description="The account's PDS.")
    timeout: float = Field(default=30.0, gt=0, le=600)


def tid(key: str, when: datetime) -> str:
    """A record key in TID form (13 base32-sortable characters) fixed by ``key``: the post's
    time in microseconds, spread by the key's hash, and a clock id from the hash."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    micros = int(when.timestamp()) * 1_000_000 + digest % 1_000_000
    value = (micros << 10) | (digest >> 20) % 1024
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def link_facets(text: str) -> list[dict[str, Any]]:
    """``app.bsky.richtext.facet`` link facets for the URLs in ``text``."""
    out = []
    import regex

    for m in regex.finditer(LINK, text):
        start = len(text[: m.start()].encode())
        out.append(
            {
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": start, "byteEnd": start + len(m.group().encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": m.group()}],
            }
        )
    return out


class Session:
    """The channel's session (access and refresh JWTs), kept 0600 in the plugin's data folder
    and dropped when the AV stores another app password."""

    def __init__(self, target: Target) -> None:
        s = target.settings
        self.target = target
        self.path = Path(target.state_dir) / "tokens" / f"{target.client.id}.{target.name}.json"
        origin = f"{s.handle}\0{s.app_password}\0{s.service}".encode()
        self.origin = hashlib.sha256(origin).hexdigest()[:16]
        self.reconnect = (
            f"reconnect the channel: avflow secrets set {target.client.id} "
            f"<the app password secret of {target.name}>"
        )

    def load(self) -> dict[str, str] | None:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("origin") != self.origin or not saved.get("refreshJwt"):
            return None
        return saved

    def save(self, did: str, handle: str, access: str, refresh: str | None) -> dict[str, str]:
        old = self.load() or {}
        doc = {"origin": self.origin, "did": did, "handle": handle, "accessJwt": access,
               "refreshJwt": refresh or old.get("refreshJwt", "")}  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.path)
        return doc


def _expires_soon(jwt: str, margin: float = 1200.0) -> bool:
    """Whether the access JWT expires within ``margin`` seconds: refreshed here first (with
    retries) rather than by the SDK, which refreshes 15 minutes before expiry."""
    try:
        payload = jwt.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    except (IndexError, KeyError, ValueError):
        return True
    return float(exp) - margin <= time.time()


class Bluesky(Provider):
    name = "bluesky"
    description = "A Bluesky account (AT Protocol, app password)."
    settings = BlueskySettings
    max_chars = 300
    max_media = 4
    max_media_bytes = 1_000_000  # an image blob, as app.bsky.embed.images takes it
    daily_limit = 1000

    def count(self, text: str) -> int:
        """Graphemes, as Bluesky counts them (300); a text over Bluesky's other limit, 3,000
        UTF-8 bytes, counts as at least 301."""
        import regex

        graphemes = len(regex.findall(r"\X", text))
        return graphemes if len(text.encode()) <= 3000 else max(graphemes, 301)

    # -- the session --------------------------------------------------------------------------
    def _client(self, target: Target, *, fresh: bool = False) -> tuple[Client, Session, str]:
        from atproto import Client
        from atproto_client.request import Request

        s = target.settings
        client = Client(s.service, request=Request(timeout=s.timeout, event_hooks=_HOOKS))
        session = Session(target)
        saved = None if fresh else session.load()
        if saved is not None and _expires_soon(saved["accessJwt"]):
            saved = self._refresh(target, session, saved)
        if saved is None:
            saved = self._create(target, session)
        client.login(
            session_string=":::".join(  # the PDS is ours to say: the default is bsky.social
                (saved["handle"], saved["did"], saved["accessJwt"], saved["refreshJwt"], s.service)
            ),
            fetch_bsky_profile=False,
        )

        def keep(_event: Any, new: Any) -> None:  # the SDK refreshed it: keep the new tokens
            session.save(new.did, new.handle, new.access_jwt, new.refresh_jwt)

        client.on_session_change(keep)
        return client, session, saved["did"]

    def _create(self, target: Target, session: Session) -> dict[str, str]:
        from atproto import Client, models
        from atproto_client.request import Request

        s = target.settings
        client = Client(s.service, request=Request(timeout=s.timeout, event_hooks=_HOOKS))
        data = models.ComAtprotoServerCreateSession.Data(
            identifier=s.handle, password=s.app_password
        )
        resp = _retrying(
            lambda: client.com.atproto.server.create_session(data),
            "Bluesky sign-in",
            session.reconnect,
        )
        return session.save(resp.did, resp.handle, resp.access_jwt, resp.refresh_jwt)

    def _refresh(
        self, target: Target, session: Session, saved: dict[str, str]
    ) -> dict[str, str] | None:
        """A new access token from the refresh token (None: refused, sign in again)."""
        from atproto import Client
        from atproto_client.request import Request

        s = target.settings
        client = Client(s.service, request=Request(timeout=s.timeout, event_hooks=_HOOKS))
        bearer = {"Authorization": f"Bearer {saved['refreshJwt']}"}
        try:
            resp = _retrying(
                lambda: client.com.atproto.server.refresh_session(headers=bearer),
                "Bluesky session refresh",
                session.reconnect,
            )
        except AuthExpired:
            return None  # an expired or revoked refresh token: the app password signs in again
        return session.save(resp.did, resp.handle, resp.access_jwt, resp.refresh_jwt)

    def _call(self, target: Target, state: list[Any], call: Any, what: str) -> Any:
        """``call(client, did)``; an expired access token (401) is refreshed once, then sent
        again (a 401 is a refusal: nothing was created)."""
        from atproto_client import exceptions as xrpc

        for attempt in range(2):
            client, session, did = state[0]
            try:
                return call(client, did)
            except xrpc.UnauthorizedError:
                if attempt:
                    raise AuthExpired(f"{what}: credentials refused; {session.reconnect}") from None
                saved = session.load()
                renewed = saved and self._refresh(target, session, saved)
                state[0] = self._client(target, fresh=not renewed)
            except xrpc.RateLimitExceededError as exc:
                raise RateLimited(f"{what}: 429 Too Many Requests", exc.retry_after or 60) from None
            except xrpc.BadRequestError as exc:
                raise ProviderError(f"{what}: {exc}") from None
        raise AssertionError("unreachable")

    # -- publishing ---------------------------------------------------------------------------
    def publish(self, target: Target, out: Outgoing) -> Published:
        from atproto_client import exceptions as xrpc

        state = [self._client(target)]
        images = []
        for m in out.media:  # media first
            data = m.path.read_bytes()
            blob = self._call(
                target,
                state,
                lambda c, _d, data=data, mime=m.mime: (
                    c.com.atproto.repo.upload_blob(data, headers={"Content-Type": mime}).blob
                ),
                "Bluesky image upload",
            )
            images.append({"alt": m.alt, "image": blob.model_dump(by_alias=True)})
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record: dict[str, Any] = {"$type": POST, "text": out.text, "createdAt": now}
        facets = link_facets(out.text)
        if facets:
            record["facets"] = facets
        if images:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        rkey = tid(out.key, out.publish_at)

        def create(c: Client, did: str) -> Any:
            data = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
            try:
                return c.com.atproto.repo.create_record(data)
            except (xrpc.BadRequestError, xrpc.NetworkError) as exc:
                # The key is taken: an earlier attempt created the post (never a second one).
                if exc.response is not None and exc.response.status_code in (400, 409):
                    found = self.lookup(target, out)
                    if found is not None:
                        return found
                raise

        resp = self._call(target, state, create, "Bluesky post")
        if isinstance(resp, Published):
            return resp
        return Published(resp.uri, _web_url(state[0][2], rkey, target))

    def lookup(self, target: Target, out: Outgoing) -> Published | None:
        """The record under the post's own key, or None."""
        state = [self._client(target)]
        rkey = tid(out.key, out.publish_at)

        def get(c: Client, did: str) -> Any:
            params = {"repo": did, "collection": POST, "rkey": rkey}
            return c.com.atproto.repo.get_record(params)

        try:
            resp = self._call(target, state, get, "Bluesky lookup")
        except ProviderError as exc:
            if "RecordNotFound" in str(exc) or "not found" in str(exc).lower():
                return None
            raise
        return Published(resp.uri, _web_url(state[0][2], rkey, target))


def _web_url(did: str, rkey: str, target: Target) -> str:
    return f"https://bsky.app/profile/{target.settings.handle or did}/post/{rkey}"


def _retrying(call: Any, what: str, reconnect: str) -> Any:
    """A session request: transient failures (5xx, 429, network, timeout) are tried 3 times;
    a refusal (400 or 401: a wrong or revoked password or token) is `AuthExpired`."""
    from atproto_client import exceptions as xrpc

    for attempt in range(3):
        try:
            return call()
        except (xrpc.UnauthorizedError, xrpc.BadRequestError) as exc:
            raise AuthExpired(f"{what}: refused ({_error(exc)}); {reconnect}") from None
        except (xrpc.NetworkError, xrpc.RequestException):
            time.sleep(0.5 * (attempt + 1))
    raise ProviderError(f"{what}: the server is unavailable; tried 3 times", sent=False)


def _error(exc: Any) -> str:
    content = getattr(getattr(exc, "response", None), "content", None)
    return str(getattr(content, "error", None) or getattr(exc.response, "status_code", "?"))
