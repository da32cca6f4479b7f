"""What can be wrong with a post before it goes out: shown by `avflow social queue`, and the
errors among them keep a post from being published."""

from __future__ import annotations

import mimetypes
import os
import stat
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from avflow_social.calendar import Post
from avflow_social.provider import ChannelSettings, MediaFile, Provider


@dataclass(frozen=True)
class Channel:
    """A client's account of a social provider's type, as posts name it."""

    name: str
    provider: Provider
    settings: ChannelSettings | Any


@dataclass(frozen=True)
class Problem:
    post: str
    channel: str | None
    severity: str  # error: the post is held back | warning: it goes out
    message: str
    where: str  # file:line


def approval_state(post: Post, approvals: dict[str, str]) -> str:
    """``approved``, ``draft``, or ``edited`` (approved, then changed: needs approval again)."""
    if post.status != "approved":
        return "draft"
    recorded = approvals.get(post.id)
    if recorded is None or recorded == post.digest:
        return "approved"
    return "edited"


@lru_cache(maxsize=256)
def _resolved(root: Path) -> str:
    return os.path.realpath(root) + os.sep


def media_files(
    post: Post, root: Path, seen: dict[str, tuple[str, int]] | None = None
) -> tuple[list[MediaFile], list[str]]:
    """The post's media inside the calendar folder, and what is wrong with them. ``seen``: the
    files already resolved by this pass or command (many posts share an image), for the next
    posts; each file is resolved at most once per pass."""
    found: list[MediaFile] = []
    wrong: list[str] = []
    if not post.media:
        return found, wrong
    base = _resolved(root)
    seen = {} if seen is None else seen
    for m in post.media:
        name = os.path.join(post.path.parent, m.file)
        if name not in seen:
            real = os.path.realpath(name)
            seen[name] = (real, _size(real))
        real, size = seen[name]
        if os.path.isabs(m.file) or not real.startswith(base):
            wrong.append(f"media {m.file!r} is outside the calendar folder")
        elif size < 0:
            wrong.append(f"media {m.file!r} is missing")
        elif not m.alt.strip():
            wrong.append(f"media {m.file!r} has no alt text")
        else:
            mime = mimetypes.guess_type(real)[0] or "application/octet-stream"
            found.append(MediaFile(Path(real), m.alt.strip(), mime, size))
    return found, wrong


def _size(path: str) -> int:
    """The size of a regular file, or -1 (missing, a folder, a device, a FIFO)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1


def post_problems(
    post: Post,
    channels: dict[str, Channel],
    root: Path,
    approvals: dict[str, str],
    now: datetime,
    soon: timedelta,
    media: tuple[list[MediaFile], list[str]] | dict[str, tuple[str, int]] | None = None,
) -> list[Problem]:
    """Everything wrong with one post (errors hold it back). ``media``: its `media_files`, when
    the caller has them already, or the files this pass or command resolved so far."""
    out: list[Problem] = []

    def add(channel: str | None, severity: str, message: str, key: str = "") -> None:
        if key == "text" and "text" not in post.lines and not post.channel_text:
            key = "body"
        line = post.lines.get(key, post.lines.get("channels", 1))
        out.append(Problem(post.id, channel, severity, message, f"{post.path}:{line}"))

    state = approval_state(post, approvals)
    if state == "edited":
        add(
            None,
            "error",
            "edited after approval: approve it again (avflow social approve)",
            "status",
        )
    elif state == "draft" and post.publish_at - now <= soon:
        due = "is due" if post.publish_at > now else "was due"
        add(None, "warning", f"not approved and {due} {post.local:%Y-%m-%d %H:%M}", "status")
    found, wrong = media if isinstance(media, tuple) else media_files(post, root, media)
    for message in wrong:
        add(None, "error", message, "media")
    for name in post.channels:
        ch = channels.get(name)
        if ch is None:
            known = ", ".join(sorted(channels)) or "none"
            add(name, "error", f"unknown channel {name!r} (social accounts: {known})", "channels")
            continue
        p = ch.provider
        if p.blog and not post.title:
            add(name, "error", "a blog post needs a title", "title")
        text = p.compose(post.text_for(name), post.link)
        if not p.blog and not text.strip() and not post.media:
            add(name, "error", "nothing to post: no text, link or media", "text")
        limit = getattr(ch.settings, "max_chars", None) or p.max_chars
        if limit is not None and not p.blog:
            n = p.count(text)
            if n > limit:
                add(name, "error", f"text is {n} characters, {p.name} allows {limit}", "text")
        for f in found:
            if f.size > p.max_media_bytes:
                add(
                    name,
                    "error",
                    f"media {_shown(post, f)!r} is {_mb(f.size)}, {p.name} takes at most "
                    f"{_mb(p.max_media_bytes)} a file",
                    "media",
                )
        if len(post.media) > p.max_media:
            add(
                name,
                "error",
                f"{len(post.media)} media, {p.name} takes at most {p.max_media}",
                "media",
            )
    return out


def too_close(posts: list[Post], channels: dict[str, Channel]) -> list[Problem]:
    """Posts nearer each other on one channel than its ``min_gap`` minutes (a warning)."""
    out: list[Problem] = []
    last: dict[str, Post] = {}
    for post in sorted(posts, key=lambda p: p.publish_at):
        for name in post.channels:
            ch = channels.get(name)
            prev = last.get(name)
            last[name] = post
            if ch is None or prev is None:
                continue
            gap = int(getattr(ch.settings, "min_gap", 30))
            if post.publish_at - prev.publish_at < timedelta(minutes=gap):
                out.append(
                    Problem(
                        post.id,
                        name,
                        "warning",
                        f"{int((post.publish_at - prev.publish_at).total_seconds() // 60)} min after "
                        f"{prev.id} on {name} (min_gap {gap})",
                        f"{post.path}:{post.lines.get('publish', 1)}",
                    )
                )
    return out


def _window(spec: str) -> tuple[time, time]:
    start, _, end = spec.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def quiet_until(settings: Any, local_now: datetime) -> datetime | None:
    """The local time a channel's quiet window ends, if ``local_now`` is inside one."""
    for spec in getattr(settings, "quiet", []) or []:
        start, end = _window(spec)
        t = local_now.time().replace(tzinfo=None)
        day = local_now.replace(tzinfo=None)
        if start <= end:
            if start <= t < end:
                return datetime.combine(day.date(), end)
        elif t >= start:
            return datetime.combine(day.date() + timedelta(days=1), end)
        elif t < end:
            return datetime.combine(day.date(), end)
    return None


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _shown(post: Post, f: MediaFile) -> str:
    """The name the post gives a media file (for its messages)."""
    for m in post.media:
        if os.path.realpath(os.path.join(post.path.parent, m.file)) == str(f.path):
            return m.file
    return f.path.name
