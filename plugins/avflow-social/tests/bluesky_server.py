"""A Bluesky PDS stand-in for `social_server.Server`: the XRPC endpoints the provider uses
(createSession, refreshSession, uploadBlob, createRecord, getRecord), checking the app password,
the access and refresh JWTs (expiring, rotated on refresh), and the post record: text of at most
300 graphemes, link facets at their UTF-8 byte offsets, images uploaded first with alt text, a
TID record key that can be taken only once."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import regex
from social_server import Network, _json

Answer = tuple[int, dict[str, str], Any]
DID = "did:plc:bloom42"
HANDLE = "bloom.bsky.social"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
X = "/xrpc/"


def jwt(kind: str, n: int, ttl: float) -> str:
    """An unsigned JWT of this server (the client reads only ``exp``)."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    body = {"scope": kind, "sub": DID, "jti": f"{kind}-{n}", "exp": int(time.time() + ttl)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(body)}.c2ln"


def issue(net: Network, access_ttl: float = 7200) -> dict[str, Any]:
    """A new session: the access JWT is the only valid one, the refresh JWT too (rotation)."""
    net.issued += 1
    st = state(net)
    st["access"] = jwt("com.atproto.appPass", net.issued, access_ttl)
    st["refresh"] = jwt("com.atproto.refresh", net.issued, 90 * 86400)
    return {"did": DID, "handle": HANDLE, "accessJwt": st["access"], "refreshJwt": st["refresh"]}


def state(net: Network) -> dict[str, Any]:
    return net.idempotency.setdefault("bluesky", {"sessions": 0, "refreshes": 0})


def bearer(h: Any) -> str:
    return str(h.get("Authorization") or "").removeprefix("Bearer ")


def bluesky(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    st = state(net)
    if method == "POST" and path == X + "com.atproto.server.createSession":
        doc = _json(body) or {}
        if doc.get("identifier") != HANDLE or doc.get("password") != net.password:
            return 401, {}, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}  # fmt: skip
        st["sessions"] += 1
        return 200, {}, issue(net, st.get("access_ttl", 7200))
    if method == "POST" and path == X + "com.atproto.server.refreshSession":
        if not st.get("refresh") or bearer(h) != st["refresh"]:
            return 400, {}, {"error": "ExpiredToken", "message": "Token has been revoked"}
        st["refreshes"] += 1
        return 200, {}, issue(net, st.get("access_ttl", 7200))
    if not st.get("access") or bearer(h) != st["access"]:
        return 401, {}, {"error": "ExpiredToken", "message": "Token has expired"}
    if method == "POST" and path == X + "com.atproto.repo.uploadBlob":
        ctype = h.get("Content-Type") or ""
        if not body or not ctype.startswith("image/"):
            return 400, {}, {"error": "InvalidRequest", "message": "an image body and its type"}
        ref = f"bafkrei{len(net.media) + 1:04d}"
        net.media[ref] = {"mimeType": ctype, "size": len(body)}
        return 200, {}, {"blob": {"$type": "blob", "ref": {"$link": ref}, "mimeType": ctype, "size": len(body)}}  # fmt: skip
    if method == "POST" and path == X + "com.atproto.repo.createRecord":
        doc = _json(body) or {}
        problem = _check(net, doc)
        if problem:
            return 400, {}, {"error": "InvalidRequest", "message": problem}
        rkey = doc["rkey"]
        if any(p["rkey"] == rkey for p in net.posts):
            return 400, {}, {"error": "InvalidRequest", "message": "Record already exists"}
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        net.posts.append({**doc["record"], "rkey": rkey, "uri": uri, "key": rkey})
        return 200, {}, {"uri": uri, "cid": f"bafyrei{len(net.posts):04d}"}
    if method == "GET" and path == X + "com.atproto.repo.getRecord":
        args = {k: v[0] for k, v in q.items()}
        if args.get("repo") != DID or args.get("collection") != "app.bsky.feed.post":
            return 400, {}, {"error": "InvalidRequest", "message": "repo and collection"}
        for p in net.posts:
            if p["rkey"] == args.get("rkey"):
                return 200, {}, {"uri": p["uri"], "cid": "bafyrei0001", "value": p}
        return 400, {}, {"error": "RecordNotFound", "message": "Could not locate record"}
    return 404, {}, {"error": "MethodNotImplemented"}


def _check(net: Network, doc: dict[str, Any]) -> str | None:
    record = doc.get("record") or {}
    if doc.get("repo") != DID or doc.get("collection") != "app.bsky.feed.post":
        return "repo and collection"
    if not TID.match(str(doc.get("rkey", ""))):
        return "rkey must be a TID"
    text = record.get("text")
    if record.get("$type") != "app.bsky.feed.post" or not isinstance(text, str):
        return "a post record"
    if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
        return "text too long"
    if not str(record.get("createdAt", "")).endswith("Z"):
        return "createdAt"
    raw = text.encode()
    for facet in record.get("facets", []):
        index, [feature] = facet["index"], facet["features"]
        span = raw[index["byteStart"] : index["byteEnd"]].decode(errors="replace")
        if feature.get("$type") != "app.bsky.richtext.facet#link" or span != feature.get("uri"):
            return f"facet does not cover its link: {span!r}"
    embed = record.get("embed")
    if embed is not None:
        images = embed.get("images", [])
        if embed.get("$type") != "app.bsky.embed.images" or not 1 <= len(images) <= 4:
            return "embed"
        for image in images:
            ref = image.get("image", {}).get("ref", {}).get("$link")
            if ref not in net.media or not image.get("alt"):
                return "images must be uploaded first and have alt text"
    return None
