"""What the triage needs from a mailbox, whichever kind it is (IMAP server or local Maildir)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from avflow_email.match import Needs
from avflow_email.message import Mail

SEEN, FLAGGED, DELETED, DRAFT = "\\Seen", "\\Flagged", "\\Deleted", "\\Draft"


@dataclass
class FolderState:
    """A folder's identity and high-water marks (``uidnext`` is None for Maildir)."""

    uidvalidity: Any
    uidnext: int | None
    highestmodseq: int | None
    messages: int
    token: Any = None  # unchanged token => no new message (IMAP: UIDNEXT; Maildir: folder mtimes)

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = self.uidnext


def uid_set(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1:3,7,9:10"`` (an IMAP sequence set)."""
    out: list[str] = []
    run: list[int] = []
    for uid in sorted(set(uids)):
        if run and uid == run[-1] + 1:
            run.append(uid)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}:{run[-1]}")
        run = [uid]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}:{run[-1]}")
    return ",".join(out)


class Mailbox(Protocol):
    """A connected mailbox. Every method raises `avflow.StepFailed` with one clear line."""

    kind: str

    def status(self, folder: str) -> FolderState: ...
    def select(self, folder: str) -> FolderState: ...
    def new_messages(self, after: Any) -> list[Any]: ...
    def fetch(
        self,
        uids: Sequence[Any],
        needs: Needs,
        on_chunk: Callable[[list[Mail]], None] | None = None,
    ) -> list[Mail]:
        """Headers of ``uids``; ``on_chunk`` (if given) may be called with batches of them as
        they arrive, or not at all."""
        ...

    def load_structure(self, mails: Sequence[Mail]) -> None: ...
    def load_full(self, mails: Sequence[Mail]) -> None: ...
    def fetch_full(self, uids: Sequence[Any]) -> dict[Any, bytes]: ...
    def set_flag(self, uids: Sequence[Any], flag: str, add: bool) -> None: ...
    def add_label(self, uids: Sequence[Any], label: str) -> None: ...
    def move(self, uids: Sequence[Any], dest: str) -> None: ...
    def copy(self, uids: Sequence[Any], dest: str) -> None: ...
    def folder_exists(self, folder: str) -> bool: ...
    def create_folder(self, folder: str) -> None: ...
    def special_folder(self, use: str, default: str) -> str: ...
    def find_message_ids(self, folder: str, ids: Sequence[str]) -> set[str]: ...
    def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> None: ...
    def close(self) -> None: ...
