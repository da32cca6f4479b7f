"""The content calendar: a client's folder of Markdown posts with YAML front matter.

A post file starts with ``---``, then YAML, then ``---``, then the Markdown body. Every mistake
is reported as ``file:line:column: message`` (`CalendarError`), lines counted in the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import avflow
from avflow import local_to_utc

MAX_FILE = 1_000_000  # a post is small: a bigger file is a mistake, not a post
UTC = UTC


class CalendarError(avflow.ConfigError):
    """A post file that cannot be read: one line naming file:line:column, exit code 2."""

    def __init__(self, path: Path | str, line: int, column: int, message: str) -> None:
        super().__init__(message)
        # the core prints a located error as "location: message"; a Location is not public API
        self.location = f"{path}:{line}:{column}"  # type: ignore[assignment]


class MediaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    alt: str = ""


class FrontMatter(BaseModel):
    """The keys a post's front matter may have (see docs/social.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
    publish: datetime | str
    channels: list[str] = Field(min_length=1)
    status: str = "draft"
    text: str | None = None
    channel_text: dict[str, str] = Field(default_factory=dict)
    media: list[MediaSpec] = Field(default_factory=list)
    link: str | None = None
    title: str | None = None
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,199}$")
    tags: list[str] = Field(default_factory=list)
    excerpt: str | None = None
    revision: int = Field(default=1, ge=1)

    @field_validator("publish", mode="before")
    @classmethod
    def _publish(cls, v: Any) -> Any:
        if isinstance(v, int | float):  # pydantic would read it as seconds since 1970
            raise ValueError(f"{v!r} is a date and time (YYYY-MM-DD HH:MM), not a number")
        return v

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        if v not in ("draft", "approved"):
            raise ValueError("status must be draft or approved")
        return v


@dataclass
class Post:
    """One post of the calendar, read and checked."""

    id: str
    path: Path
    rel: str  # path relative to the calendar folder, for messages
    local: datetime  # the wall-clock time written (naive, client's timezone)
    publish_at: datetime  # UTC
    channels: list[str]
    status: str
    text: str
    channel_text: dict[str, str]
    media: list[MediaSpec]
    link: str | None
    title: str | None
    slug: str | None
    tags: list[str]
    excerpt: str | None
    body: str
    revision: int
    digest: str  # content hash: everything but the status
    doc: Any = field(default=None, repr=False, compare=False)  # the front matter as read
    body_line: int = 1

    @cached_property
    def lines(self) -> dict[str, int]:
        """Front-matter key -> its line in the file (and ``body``), for messages."""
        data = self.doc.data if self.doc is not None else {}
        found = {str(k): self.doc.locate((k,)).line or 1 for k in data}
        return {**found, "body": self.body_line}

    def text_for(self, channel: str) -> str:
        return self.channel_text.get(channel, self.text)


def split(raw: str, path: Path) -> tuple[str, str, int]:
    """Front matter, body, and the line number where the front matter starts."""
    if raw.startswith("\ufeff"):
        raw = raw[1:]
    first, _, rest = raw.partition("\n")
    if first.rstrip() != "---":
        raise CalendarError(path, 1, 1, "a post starts with a line '---' and its front matter")
    end = rest.find("\n---")
    if rest.startswith("---"):
        end = -1
        head, body = "", rest.partition("\n")[2]
    elif end < 0:
        raise CalendarError(path, 1, 1, "the front matter has no closing '---' line")
    else:
        head = rest[: end + 1]
        body = rest[end + 4 :].partition("\n")[2]
    return head, body, 2


def _publish_time(
    value: datetime | str, tz: tzinfo, path: Path, line: Callable[[], int | None]
) -> tuple[datetime, datetime]:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise CalendarError(
                path,
                line() or 1,
                1,
                f"publish: {value!r} is not a date and time (YYYY-MM-DD HH:MM)",
            ) from None
    try:
        if value.tzinfo is not None:  # an explicit offset is honoured as written
            utc = value.astimezone(UTC)
            return utc.astimezone(tz).replace(tzinfo=None), utc
        return value, local_to_utc(value, tz)
    except OverflowError:  # year 1 or 9999 moved across a time zone
        raise CalendarError(
            path, line() or 1, 1, f"publish: {value.isoformat(' ')} is out of range"
        ) from None


def _invalid(exc: ValidationError, doc: Any, path: Path) -> CalendarError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    where = doc.locate(loc)  # the deepest key of loc that is written (a missing one: its parent)
    name = ".".join(str(p) for p in loc) or "front matter"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}"
    elif err["type"] == "missing":
        msg = "is required"
    return CalendarError(path, where.line or 1, where.column or 1, f"{name}: {msg}")


STATUS_LINE = re.compile(r"^status[ \t]*:.*$", re.M)


def _digest(head: str, body: str) -> str:
    """The content approved: the file as written, but for its ``status:`` line."""
    blob = STATUS_LINE.sub("", head) + "\0" + body
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse(raw: str, path: Path, rel: str, tz: tzinfo) -> Post:
    """Read one post file's text; raise `CalendarError` naming file:line:column."""
    head, body, offset = split(raw, path)
    try:  # avflow's one YAML reader: YAML 1.2, limits, positions counted in the file
        doc = avflow.read_yaml(path, text=head, first_line=offset)
    except avflow.ConfigError as exc:
        where = exc.location
        line, col = getattr(where, "line", None) or offset, getattr(where, "column", None) or 1
        raise CalendarError(path, line, col, f"front matter: {exc.message}") from None
    data = doc.data
    if not isinstance(data, dict):
        raise CalendarError(path, offset, 1, "the front matter must be a mapping of keys")
    try:
        fm = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, doc, path) from None
    local, utc = _publish_time(fm.publish, tz, path, lambda: doc.locate(("publish",)).line)
    body = body.strip("\n")
    return Post(
        id=fm.id or rel.removesuffix(".md").replace("/", "-"),
        path=path,
        rel=rel,
        local=local,
        publish_at=utc,
        channels=fm.channels,
        status=fm.status,
        text=(fm.text if fm.text is not None else body).strip(),
        channel_text=fm.channel_text,
        media=fm.media,
        link=fm.link,
        title=fm.title,
        slug=fm.slug,
        tags=fm.tags,
        excerpt=fm.excerpt,
        body=body,
        revision=fm.revision,
        digest=_digest(head, body),
        doc=doc,
        body_line=offset + head.count("\n") + 1,
    )


def post_files(folder: Path) -> list[Path]:
    """The calendar's ``*.md`` files, sorted; links and names starting with . or _ are skipped
    (a link could lead out of the client's folder)."""
    found: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith((".", "_")) or entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                found.extend(post_files(Path(entry.path)))
            elif entry.name.endswith(".md") and entry.is_file(follow_symlinks=False):
                found.append(Path(entry.path))
    return found


def read_post(path: Path, folder: Path, tz: tzinfo) -> Post:
    rel = str(path)[len(str(folder)) + 1 :].replace(os.sep, "/")
    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if shown != rel:  # a name the system gave as bytes: no post id, key or message can hold it
        where = folder / shown
        raise CalendarError(where, 1, 1, "the file's name is not UTF-8 text: rename the file")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size > MAX_FILE:
            raise CalendarError(path, 1, 1, f"larger than {MAX_FILE} bytes: not a post")
        data = os.read(fd, MAX_FILE + 1)
        while len(data) <= MAX_FILE and (more := os.read(fd, MAX_FILE + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:  # grown since: still not a post
        raise CalendarError(path, 1, 1, f"larger than {MAX_FILE} bytes: not a post")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CalendarError(path, 1, exc.start + 1, "not UTF-8 text") from None
    return parse(raw, path, rel, tz)


def read_calendar(folder: Path, tz: tzinfo) -> tuple[list[Post], list[CalendarError]]:
    """Every post of the folder, and the errors of the files that could not be read."""
    posts: list[Post] = []
    errors: list[CalendarError] = []
    seen: dict[str, Post] = {}
    for path in post_files(folder):
        try:
            post = read_post(path, folder, tz)
        except CalendarError as exc:
            errors.append(exc)
            continue
        if post.id in seen:
            errors.append(
                CalendarError(
                    path,
                    post.lines.get("id", 1),
                    1,
                    f"post id {post.id!r} is also used by {seen[post.id].rel}",
                )
            )
            continue
        seen[post.id] = post
        posts.append(post)
    posts.sort(key=lambda p: (p.publish_at, p.id))
    return posts, errors
