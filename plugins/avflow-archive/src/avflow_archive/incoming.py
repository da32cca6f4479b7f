"""`Incoming`: a file about to be filed. A frozen dataclass costs a few million instructions of
compiled methods when it is defined, so it has a module of its own, imported when files are
filed, not when `avflow validate` loads the plugin's models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

from avflow_archive.items import decode_name


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
    identity: tuple[int, int] | None = None  # drop files: (device, inode) in the listing

    @property
    def source(self) -> str:
        """Where the file came from, for the index: the drop file, or the message.

        A path or name that is not valid UTF-8 is shown by the reversible rule of `decode_name`.
        """
        if self.origin == "drop":
            return f"drop:{decode_name(str(self.path))}"
        return decode_name(f"email:{self.message_id or self.sender}:{self.name}")

    @property
    def address(self) -> str:
        return parseaddr(self.sender)[1].strip().lower()

    @property
    def sender_name(self) -> str:
        return parseaddr(self.sender)[0].strip()
