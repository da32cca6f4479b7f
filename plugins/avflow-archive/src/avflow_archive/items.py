"""The files to file: what an earlier step hands over, and what a path template sees of them."""

from datetime import UTC, datetime, tzinfo
from email.utils import parseaddr
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from avflow_archive.incoming import Incoming
    from avflow_archive.sniff import Content


def clean_component(value: object, *, fallback: str | None = None) -> str:
    """`avflow_archive.sanitize.clean_component`, imported when a file is named (its
    pathvalidate is not needed to validate a workflow)."""
    from avflow_archive import sanitize

    if fallback is None:
        return sanitize.clean_component(value)
    return sanitize.clean_component(value, fallback=fallback)


def decode_name(name: str) -> str:
    from avflow_archive.sanitize import decode_name

    return decode_name(name)


class FileItem(BaseModel):
    """One file handed over by an earlier step, e.g. an attachment the email plugin collected.

    The file itself is at ``path``, inside the run's spool; the rest describes where it came
    from. See docs/archive.md ("Files from an earlier step").
    """

    model_config = ConfigDict(extra="ignore", defer_build=True)

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


@lru_cache(maxsize=1024)
def _parse_sender(sender: str) -> tuple[str, str]:
    """``Name <address>`` as (name, lower-case address); a step's files share a few senders."""
    name, address = parseaddr(sender)
    return name.strip(), address.strip().lower()


class FileVars:
    """What a path template sees as ``file``: every text value is already a safe path component.

    ``{{ file.date.year }}``, ``{{ file.month }}``, ``{{ file.sender_domain }}``, ``{{ file.name }}``...
    Values are worked out when a template first asks for them.
    """

    def __init__(
        self, item: "Incoming", content: "Content", tz: tzinfo, now: datetime, rule: str = ""
    ) -> None:
        self._item = item
        self._content = content
        self._tz = tz
        self._now = now
        self._rule = rule

    @cached_property
    def name(self) -> str:
        return clean_component(self._item.name)

    @cached_property
    def _split(self) -> tuple[str, str]:
        stem, dot, ext = self.name.rpartition(".")
        return (stem, ext) if dot and stem else (self.name, "")

    @property
    def stem(self) -> str:
        return self._split[0]

    @cached_property
    def ext(self) -> str:
        ext = self._split[1]
        return clean_component(ext.lower(), fallback="") if ext else ""

    @cached_property
    def type(self) -> str:
        # one path component like every value: application/pdf is application_pdf
        return clean_component(self._content.type, fallback="unknown")

    @property
    def type_ext(self) -> str:
        return self._content.ext

    @property
    def size(self) -> int:
        return self._content.size

    @property
    def sha256(self) -> str:
        return self._content.sha256

    @property
    def hash8(self) -> str:
        return self._content.sha256[:8]

    @cached_property
    def _address(self) -> tuple[str, str]:
        return _parse_sender(self._item.sender)

    @cached_property
    def sender(self) -> str:
        address = self._address[1]
        return clean_component(address, fallback="unknown") if address else "unknown"

    @cached_property
    def sender_name(self) -> str:
        return clean_component(self._address[0], fallback="unknown")

    @cached_property
    def sender_domain(self) -> str:
        domain = self._address[1].rpartition("@")[2]
        return clean_component(domain, fallback="unknown") if domain else "unknown"

    @cached_property
    def subject(self) -> str:
        return clean_component(self._item.subject[:120], fallback="no subject")

    @cached_property
    def date(self) -> datetime:
        when = self._item.date or self._now
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(self._tz)

    @property
    def year(self) -> str:
        return f"{self.date.year:04d}"

    @property
    def month(self) -> str:
        return f"{self.date.month:02d}"

    @property
    def day(self) -> str:
        return f"{self.date.day:02d}"

    @property
    def origin(self) -> str:
        return self._item.origin

    @cached_property
    def rule(self) -> str:
        return clean_component(self._rule, fallback="") if self._rule else ""


def __getattr__(name: str) -> Any:
    """``from avflow_archive.items import Incoming`` still works (it is in
    `avflow_archive.incoming`, imported when files are filed)."""
    if name == "Incoming":
        from avflow_archive.incoming import Incoming

        return Incoming
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
