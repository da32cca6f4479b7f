"""What every archive backend offers, and the one filing algorithm they all share.

A backend writes a new file atomically and never replaces an existing one (``put`` raises
`FileExistsError` instead). `file_into` builds on that: it walks ``x.pdf``, ``x (2).pdf``, ...
and stops at the first name that either holds identical content (a duplicate: nothing is
written) or is free (the file is written there).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from avflow_archive.sanitize import numbered
from avflow_archive.source import Source

MAX_SUFFIX = 1000
CHUNK = 1 << 20


class Absent:
    """Marker: nothing exists at that path."""


ABSENT = Absent()


@dataclass(frozen=True)
class Existing:
    """What is at a path: a file (with its size, and maybe a hash the backend already knows)."""

    size: int | None
    sha256: str | None = None
    is_dir: bool = False


def partial_name(token: str) -> str:
    """The name of a backend's temporary file for one effect (hidden, recognisable)."""
    return f".avflow-{token[:24]}.part"


class Store(ABC):
    """An archive root: a local folder, a Drive folder, an SFTP or WebDAV folder."""

    label: str  # shown in descriptions: "local:/srv/archive"
    retention_years: int = 0

    @abstractmethod
    def inside(self, rel: PurePosixPath) -> bool:
        """Whether ``rel`` (already clean) stays inside the root once resolved (symlinks)."""

    @abstractmethod
    def stat(self, rel: PurePosixPath) -> Existing | Absent:
        """What exists at ``rel``."""

    @abstractmethod
    def read_chunks(self, rel: PurePosixPath) -> Iterator[bytes]:
        """The bytes of the file at ``rel``."""

    @abstractmethod
    def put(self, rel: PurePosixPath, source: Source, sha256: str, token: str, mime: str) -> None:
        """Write the open ``source`` at ``rel`` atomically and durably; raise FileExistsError if taken.

        ``token`` names the temporary file, so a retry after a crash reuses (and removes) it.
        """

    def adapt(self, rel: PurePosixPath) -> PurePosixPath:
        """``rel`` as this backend can store it (a clean path; most backends take it as is)."""
        return rel

    def discard_partial(self, rel: PurePosixPath, token: str) -> None:  # noqa: B027 - optional
        """Remove a temporary file a crash may have left beside ``rel``."""

    def stage(self, rel: PurePosixPath, source: Source, token: str) -> None:  # noqa: B027
        """Optionally start writing ``source``'s temporary file for ``rel`` now (`put` with
        the same token publishes it); most backends write in `put` itself."""

    def discard_staged(self) -> None:  # noqa: B027 - optional
        """Remove what `stage` wrote that no `put` published."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""

    batching = False  # a backend that can defer making names durable sets it in `start_batch`
    group_effects = False  # True: a big step writes a batch of files as one ledger effect

    def start_batch(self) -> None:
        """From now on, `put` may leave names to be made durable by `flush` (local folders)."""
        self.batching = True

    def flush(self) -> None:  # noqa: B027 - optional
        """Make every file `put` since the last flush durable (nothing to do for most backends)."""

    def describe(self, rel: PurePosixPath) -> str:
        return f"{self.label}/{rel}"

    def same_content(self, rel: PurePosixPath, sha256: str, size: int) -> bool | None:
        """True if ``rel`` holds exactly this content, False if it holds something else,
        None if nothing is there."""
        found = self.stat(rel)
        if isinstance(found, Absent):
            return None
        if found.is_dir or (found.size is not None and found.size != size):
            return False
        if found.sha256 is not None:
            return found.sha256 == sha256
        digest = hashlib.sha256()
        for chunk in self.read_chunks(rel):
            digest.update(chunk)
        return digest.hexdigest() == sha256


@dataclass(frozen=True)
class Placement:
    """Where a file ended up and whether it was written now or found already there."""

    path: PurePosixPath
    status: str  # "filed" | "duplicate"

    def as_result(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status}


def find_existing(store: Store, rel: PurePosixPath, sha256: str, size: int) -> PurePosixPath | None:
    """The first of ``rel``, ``rel (2)``, ... holding this content, before a free name."""
    for n in range(1, MAX_SUFFIX + 1):
        candidate = numbered(rel, n)
        same = store.same_content(candidate, sha256, size)
        if same is None:
            return None
        if same:
            return candidate
    return None


def file_into(
    store: Store, rel: PurePosixPath, source: Source, sha256: str, size: int, token: str, mime: str
) -> Placement:
    """Put ``source`` at ``rel`` or the first free numbered variant; never overwrite."""
    for n in range(1, MAX_SUFFIX + 1):
        candidate = numbered(rel, n)
        same = store.same_content(candidate, sha256, size)
        if same:
            store.discard_partial(candidate, token)
            return Placement(candidate, "duplicate")
        if same is None:
            try:
                store.put(candidate, source, sha256, token, mime)
            except FileExistsError:
                # taken between the check and the write: by this very content, or another
                if store.same_content(candidate, sha256, size):
                    return Placement(candidate, "duplicate")
                continue
            return Placement(candidate, "filed")
    raise FileExistsError(f"{rel}: more than {MAX_SUFFIX} different files already use this name")
