"""A local HTTP server implementing the endpoints the providers use (WordPress REST, Mastodon,
a webhook), checking authentication and payloads, with scripted failures: a status code with
headers, or "accept then hang" (the post is created, the answer never comes in time)."""

from __future__ import annotations

import base64
import email
import html
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Network:
    """The fake network's state: what it received and what it holds."""

    token: str = "tok-123"
    user: str = "bloom"
    password: str = "abcd efgh ijkl"
    posts: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # "METHOD /path" in order
    script: list[tuple[str, Any]] = field(default_factory=list)  # (METHOD /path prefix, action)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: str = "ref-1"  # the refresh token the token endpoint accepts
    issued: int = 0  # access tokens issued by refreshes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, route: str, *actions: Any) -> None:
        """The next requests matching ``route`` get ``actions`` in turn: (code, headers) or
        ("hang", seconds) for accept-then-hang."""
        self.script.extend((route, a) for a in actions)

    def scripted(self, route: str) -> Any:
        with self.lock:
            for i, (prefix, action) in enumerate(self.script):
                if route.startswith(prefix):
                    del self.script[i]
                    return action
        return None


def _reset_header(seconds: int) -> dict[str, str]:
    reset = datetime.now(UTC) + timedelta(seconds=seconds)
    return {
        "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.isoformat(), "Date": format_datetime(datetime.now(UTC), usegmt=True),
    }  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        net = self.server.net
        route = f"{method} {url.path}"
        net.log.append(route)
        action = net.scripted(route)
        hang = 0.0
        if isinstance(action, tuple) and action[0] == "hang":
            hang = float(action[1])
        elif action is not None:
            code, headers = action
            if code == 429 and url.path.startswith("/api/"):
                headers = {**_reset_header(int(headers.get("Retry-After", "30"))), **headers}
            self._send(code, headers, {"error": f"scripted {code}"})
            return
        code, headers, doc = self.server.app(
            net, method, url.path, parse_qs(url.query), self.headers, body
        )
        if hang:
            time.sleep(hang)
        self._send(code, headers, doc)

    def _send(self, code: int, headers: dict[str, str], doc: Any) -> None:
        data = json.dumps(doc).encode()
        try:
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: Any) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.net = Network()
        self.app = app
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


# -- WordPress ---------------------------------------------------------------------------------
def wordpress(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    auth = "Basic " + base64.b64encode(f"{net.user}:{net.password}".encode()).decode()
    if h.get("Authorization") != auth:
        return (
            401,
            {},
            {"code": "rest_not_logged_in", "message": "You are not currently logged in."},
        )
    p = path.removeprefix("/wp-json/wp/v2")
    if method == "POST" and p == "/media":
        if "filename=" not in (h.get("Content-Disposition") or "") or not body:
            return 400, {}, {"code": "rest_upload_no_data"}
        mid = str(len(net.media) + 1)
        net.media[mid] = {
            "id": int(mid),
            "type": h.get("Content-Type"),
            "size": len(body),
            "alt_text": "",
        }
        return 201, {}, {"id": int(mid), "source_url": f"https://blog.example/uploads/{mid}"}
    if method == "POST" and p.startswith("/media/"):
        net.media[p.split("/")[-1]]["alt_text"] = (_json(body) or {}).get("alt_text", "")
        return 200, {}, net.media[p.split("/")[-1]]
    if p == "/tags":
        if method == "GET":
            s = q.get("search", [""])[0].lower()
            return 200, {}, [{"id": i, "name": n} for n, i in net.tags.items() if s in n.lower()]
        name = (_json(body) or {})["name"]
        net.tags[name] = len(net.tags) + 10
        return 201, {}, {"id": net.tags[name], "name": name}
    if method == "GET" and p == "/posts":
        if q.get("context") == ["edit"] and not q.get("status"):
            return 400, {}, {}
        slug = q.get("slug", [None])[0]
        return 200, {}, [x for x in net.posts if slug is None or x["slug"] == slug]
    if method == "POST" and p == "/posts":
        return _wp_create(net, _json(body) or {})
    return 404, {}, {"code": "rest_no_route"}


def _wp_create(net: Network, doc: dict[str, Any]) -> Answer:
    if not doc.get("title") or "<" not in doc.get("content", "<"):
        return 400, {}, {"code": "rest_invalid_param", "message": "title and HTML content"}
    if doc.get("status") not in ("publish", "future"):
        return 400, {}, {"code": "rest_invalid_param", "message": "status"}
    if doc["status"] == "future" and not doc.get("date_gmt"):
        return 400, {}, {"code": "rest_invalid_param", "message": "future needs date_gmt"}
    fm = doc.get("featured_media")
    if fm is not None and not net.media.get(str(fm), {}).get("alt_text"):
        return 400, {}, {"code": "rest_invalid_param", "message": "featured media without alt"}
    slug, n = doc.get("slug") or "post", 2
    base = slug
    while any(x["slug"] == slug for x in net.posts):  # WordPress keeps slugs unique
        slug, n = f"{base}-{n}", n + 1
    post = {
        **doc,
        "id": len(net.posts) + 100,
        "slug": slug,
        "link": f"https://blog.example/{slug}/",
    }
    net.posts.append(post)
    return 201, {}, post


# -- Mastodon ----------------------------------------------------------------------------------
def _multipart(h: Any, body: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(f"Content-Type: {h.get('Content-Type')}\r\n\r\n".encode() + body)
    out: dict[str, Any] = {}
    for part in msg.get_payload() if msg.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        out[name] = part.get_payload(decode=True)
    return out


def mastodon(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    if h.get("Authorization") != f"Bearer {net.token}":
        return 401, {}, {"error": "The access token is invalid"}
    if method == "POST" and path in ("/api/v1/media", "/api/v2/media"):
        form = _multipart(h, body)
        if not form.get("file"):
            return 422, {}, {"error": "Validation failed: File can't be blank"}
        mid = str(len(net.media) + 1)
        alt = (form.get("description") or b"").decode()
        net.media[mid] = {
            "id": mid,
            "type": "image",
            "description": alt,
            "url": f"https://m.example/{mid}",
        }
        return 200, {}, net.media[mid]
    if method == "POST" and path == "/api/v1/statuses":
        return _toot(net, h, body)
    if path.rstrip("/") in ("/api/v1/instance", "/api/v2/instance"):
        return 200, {}, {"version": "4.3.0", "uri": "m.example", "domain": "m.example",
                         "api_versions": {"mastodon": 2}}  # fmt: skip
    if path == "/api/v1/accounts/verify_credentials":
        return 200, {}, {"id": "1", "username": "bloom", "acct": "bloom"}
    if path == "/api/v1/accounts/1/statuses":
        return 200, {}, list(reversed(net.posts))[: int(q.get("limit", ["20"])[0])]
    return 404, {}, {"error": "Record not found"}


def _toot(net: Network, h: Any, body: bytes) -> Answer:
    form = _json(body) if "json" in (h.get("Content-Type") or "") else None
    if form is None:
        raw = parse_qs(body.decode())
        form = {"status": raw.get("status", [""])[0], "media_ids": raw.get("media_ids[]", []),
                "visibility": raw.get("visibility", ["public"])[0]}  # fmt: skip
    key = h.get("Idempotency-Key")
    if key and key in net.idempotency:
        return 200, {}, net.idempotency[key]
    text = form.get("status") or ""
    if len(text) > 500 or (not text and not form.get("media_ids")):
        return 422, {}, {"error": "Validation failed: Text character limit of 500 exceeded"}
    for mid in form.get("media_ids") or []:
        if mid not in net.media:
            return 422, {}, {"error": "Validation failed: media"}
    sid = str(len(net.posts) + 1000)
    status = {
        "id": sid, "uri": f"https://m.example/users/bloom/statuses/{sid}",
        "url": f"https://m.example/@bloom/{sid}", "created_at": datetime.now(UTC).isoformat(),
        "content": "<p>" + html.escape(text).replace("\n", "<br />") + "</p>",
        "visibility": form.get("visibility"), "account": {"id": "1", "acct": "bloom"},
        "media_attachments": [net.media[m] for m in form.get("media_ids") or []], "key": key,
    }  # fmt: skip
    net.posts.append(status)
    if key:
        net.idempotency[key] = status
    return 200, {}, status


# -- webhook -----------------------------------------------------------------------------------
def webhook(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    if h.get("Authorization") != f"Bearer {net.token}":
        return 401, {}, {"error": "unauthorized"}
    if method == "POST" and path == "/hook":
        doc = _json(body) or {}
        if not doc.get("key") or h.get("Idempotency-Key") != doc["key"] or "text" not in doc:
            return 400, {}, {"error": "key, Idempotency-Key and text are required"}
        net.posts.append(doc)  # no deduplication here: a double would show
        return (
            200,
            {},
            {"id": f"h{len(net.posts)}", "url": f"https://hook.example/{len(net.posts)}"},
        )
    if method == "GET" and path == "/hook/lookup":
        key = q.get("key", [""])[0]
        for i, doc in enumerate(net.posts, 1):
            if doc["key"] == key:
                return 200, {}, {"id": f"h{i}", "url": f"https://hook.example/{i}"}
        return 404, {}, {"error": "not found"}
    return 404, {}, {"error": "no route"}


# -- LinkedIn ----------------------------------------------------------------------------------
def linkedin(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    if path == "/oauth/v2/accessToken":
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != "app":
            return 400, {}, {"error": "invalid_request"}
        if form.get("refresh_token") != net.refresh or form.get("client_secret") != "shh":
            return 400, {}, {"error": "invalid_grant", "error_description": "revoked"}
        net.issued += 1
        net.token = f"acc-{net.issued + 1}"
        return 200, {}, {"access_token": net.token, "expires_in": 5183999}  # no new refresh token
    if h.get("Authorization") != f"Bearer {net.token}":
        return 401, {}, {"status": 401, "code": "EXPIRED_ACCESS_TOKEN"}
    if path.startswith("/rest/") and (
        h.get("LinkedIn-Version") is None or h.get("X-Restli-Protocol-Version") != "2.0.0"
    ):
        return 400, {}, {"message": "LinkedIn-Version and X-Restli-Protocol-Version are required"}
    if method == "POST" and path == "/rest/images" and q.get("action") == ["initializeUpload"]:
        mid = str(len(net.media) + 1)
        net.media[f"urn:li:image:{mid}"] = {"uploaded": False}
        upload = f"http://{h.get('Host')}/upload/{mid}"
        return 200, {}, {"value": {"uploadUrl": upload, "image": f"urn:li:image:{mid}"}}
    if method == "PUT" and path.startswith("/upload/"):
        net.media[f"urn:li:image:{path.split('/')[-1]}"]["uploaded"] = bool(body)
        return 201, {}, {}
    if method == "POST" and path == "/rest/posts":
        doc = _json(body) or {}
        ok = (
            doc.get("author") == "urn:li:organization:42"
            and doc.get("lifecycleState") == "PUBLISHED"
        )
        media = (doc.get("content") or {}).get("media")
        if media and not (
            net.media.get(media.get("id"), {}).get("uploaded") and media.get("altText")
        ):
            ok = False
        if not ok or not doc.get("commentary") or len(doc["commentary"]) > 3000:
            return 422, {}, {"message": "invalid post"}
        urn = f"urn:li:share:{len(net.posts) + 7000}"
        net.posts.append({**doc, "id": urn, "key": doc["commentary"]})
        return 201, {"x-restli-id": urn}, {}
    if method == "GET" and path == "/rest/posts" and q.get("q") == ["author"]:
        return 200, {}, {"elements": list(reversed(net.posts))[: int(q.get("count", ["10"])[0])]}
    return 404, {}, {"message": "no route"}


# -- Facebook Graph API ------------------------------------------------------------------------
def facebook(
    net: Network, method: str, path: str, q: dict[str, list[str]], h: Any, body: bytes
) -> Answer:
    ctype = h.get("Content-Type") or ""
    form: dict[str, Any] = (
        {
            k: v.decode() if isinstance(v, bytes) and k != "source" else v
            for k, v in _multipart(h, body).items()
        }
        if "multipart" in ctype
        else {k: v[0] for k, v in parse_qs(body.decode()).items()}
    )
    token = form.get("access_token") or q.get("access_token", [None])[0]
    if token != net.token:
        return (
            400,
            {},
            {
                "error": {
                    "type": "OAuthException",
                    "code": 190,
                    "message": "Invalid OAuth access token.",
                }
            },
        )
    if method == "POST" and path == "/v19.0/42/photos":
        if not form.get("source") or form.get("published") != "false":
            return 400, {}, {"error": {"code": 100, "message": "source and published=false"}}
        mid = f"ph{len(net.media) + 1}"
        net.media[mid] = {"alt": form.get("alt_text_custom", "")}
        return 200, {}, {"id": mid}
    if method == "POST" and path == "/v19.0/42/feed":
        attached = [
            json.loads(v)["media_fbid"]
            for k, v in sorted(form.items())
            if k.startswith("attached_media")
        ]
        if not form.get("message") or any(m not in net.media for m in attached):
            return 400, {}, {"error": {"code": 100, "message": "message and known media"}}
        pid = f"42_{len(net.posts) + 500}"
        post = {"id": pid, "message": form["message"], "link": form.get("link"), "media": attached,
                "permalink_url": f"https://www.facebook.com/42/posts/{pid}", "key": form["message"]}  # fmt: skip
        net.posts.append(post)
        return 200, {}, {"id": pid}
    if method == "GET" and path == "/v19.0/42/feed":
        return 200, {}, {"data": list(reversed(net.posts))[: int(q.get("limit", ["25"])[0])]}
    return 404, {}, {"error": {"code": 803, "message": "no route"}}
