"""The files to file: what an earlier step hands over, and what a path template sees of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avflow_archive.sanitize import clean_component
from avflow_archive.sniff import Content


class FileItem(BaseModel):
    """One file handed over by an earlier step, e.g. an attachment the email plugin collected.

    The file itself is at ``path``, inside the run's spool; the rest describes where it came
    from. See docs/archive.md ("Files from an earlier step").
    """

    model_config = ConfigDict(extra="ignore")

    path: str = Field(description="The file, inside this run's spool folder.")
    name: str | None = Field(
        default=None, description="Its original name (as the sender wrote it)."
    )
    sender: str = Field(default="", description="The sender: an address or 'Name <address>'.")
    date: datetime | None = Field(default=None, description="When it was sent (ISO 8601).")
    subject: str = Field(default="", description="The subject of the message it came with.")
    size: int | None = Field(default=None, ge=0, description="Its size in bytes.")
    type: str | None = Field(default=None, description="The content type the sender claimed.")
    message_id: str | None = Field(
        default=None, description="The Message-ID of the message it came with."
    )

    @field_validator("date", mode="before")
    @classmethod
    def _blank_date(cls, v: Any) -> Any:
        return None if v in ("", None) else v

    @field_validator("sender", "subject", mode="before")
    @classmethod
    def _none_is_blank(cls, v: Any) -> Any:
        return "" if v is None else v


@dataclass(frozen=True)
class Incoming:
    """A file about to be filed, from an earlier step or from a drop folder."""

    path: Path
    name: str  # as received: may be hostile, never used unsanitised
    origin: str  # "email" | "drop"
    sender: str = ""
    subject: str = ""
    date: datetime | None = None
    claimed_type: str | None = None
    snapshot: tuple[int, int, int] | None = None  # drop files: (size, mtime_ns, inode) when read
    message_id: str | None = None

    @property
    def source(self) -> str:
        """Where the file came from, for the index: the drop file, or the message."""
        if self.origin == "drop":
            return f"drop:{self.path}"
        return f"email:{self.message_id or self.sender}:{self.name}"

    @property
    def address(self) -> str:
        return parseaddr(self.sender)[1].strip().lower()

    @property
    def sender_name(self) -> str:
        return parseaddr(self.sender)[0].strip()


@dataclass(frozen=True)
class FileVars:
    """What a path template sees as ``file``: every text value is already a safe path component.

    ``{{ file.date.year }}``, ``{{ file.month }}``, ``{{ file.sender_domain }}``, ``{{ file.name }}``...
    """

    name: str
    stem: str
    ext: str
    type: str
    type_ext: str
    size: int
    sha256: str
    hash8: str
    sender: str
    sender_name: str
    sender_domain: str
    subject: str
    date: datetime
    year: str
    month: str
    day: str
    origin: str
    rule: str

    @classmethod
    def build(
        cls, item: Incoming, content: Content, tz: tzinfo, now: datetime, rule: str = ""
    ) -> FileVars:
        name = clean_component(item.name)
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        when = item.date or now
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(tz)
        domain = item.address.rpartition("@")[2]
        return cls(
            name=name,
            stem=stem,
            ext=clean_component(ext.lower(), fallback="") if ext else "",
            type=content.type,
            type_ext=content.ext,
            size=content.size,
            sha256=content.sha256,
            hash8=content.sha256[:8],
            sender=clean_component(item.address, fallback="unknown") if item.address else "unknown",
            sender_name=clean_component(item.sender_name, fallback="unknown"),
            sender_domain=clean_component(domain, fallback="unknown") if domain else "unknown",
            subject=clean_component(item.subject[:120], fallback="no subject"),
            date=when,
            year=f"{when.year:04d}",
            month=f"{when.month:02d}",
            day=f"{when.day:02d}",
            origin=item.origin,
            rule=clean_component(rule, fallback="") if rule else "",
        )
