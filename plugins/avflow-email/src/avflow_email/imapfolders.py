"""IMAP operations that look at or tidy other folders and single UIDs: Message-ID searches,
identities for reconciling an interrupted move (`avflow_email.recover`), and expunging exactly
the given UIDs (UIDPLUS)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import IMAPClientError

import avflow
from avflow_email.backend import DELETED, uid_set
from avflow_email.message import parse_headers


def quoted_folder(folder: str) -> bytes:
    """A folder name as an IMAP quoted string, in modified UTF-7 (RFC 3501 5.1.3)."""
    name = imap_utf7.encode(folder)
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class FolderOps:
    """Mixed into `avflow_email.imap.ImapMailbox`."""

    client: IMAPClient
    selected: str | None
    caps: set[str]
    where: str

    def guard(self, doing: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _fetch_parsed(self, uids: str, items: list[str]) -> dict[int, dict[bytes, Any]]:
        raise NotImplementedError

    def fetch_items(self, uids: str, items: list[str]) -> dict[int, dict[bytes, Any]]:
        """``UID FETCH`` of a sequence set in the selected folder, parsed."""
        if not uids:
            return {}
        with self.guard("FETCH"):
            return self._fetch_parsed(uids, ["UID", *items])

    def examine_fetch(
        self, folder: str, uids: str, items: list[str]
    ) -> dict[int, dict[bytes, Any]]:
        """`fetch_items` in another folder (opened read-only); the selection is kept."""
        with self._elsewhere(folder, readonly=True):
            return self.fetch_items(uids, items)

    def present(self, uids: Sequence[int]) -> list[int]:
        """Which of ``uids`` are still in the selected folder (its view brought up to date)."""
        if not uids:
            return []
        with self.guard("SEARCH"):
            self.client.noop()
            found = set(self.client.search(["UID", uid_set(uids)]))
        return [u for u in uids if u in found]

    def expunge_own(self, uids: Sequence[int]) -> None:
        """Expunge exactly ``uids`` from the selected folder (never another \\Deleted message)."""
        if not uids:
            return
        if "UIDPLUS" not in self.caps:
            raise avflow.StepFailed(
                f"{self.where}: the server lacks UIDPLUS, so messages already moved cannot be "
                "removed from the source alone; remove them by hand"
            )
        with self.guard("EXPUNGE"):
            self.client.add_flags(uid_set(uids), [DELETED], silent=True)
            self.client.uid_expunge(uid_set(uids))

    def expunge_in(self, folder: str, uids: Sequence[int]) -> None:
        """`expunge_own` in another folder; the selection is kept."""
        with self._elsewhere(folder, readonly=False):
            self.expunge_own(uids)

    def _elsewhere(self, folder: str, readonly: bool) -> AbstractContextManager[None]:
        @contextmanager
        def switch() -> Iterator[None]:
            back = self.selected
            with self.guard(f"SELECT {folder}"):
                self.client.select_folder(folder, readonly=readonly)
            try:
                yield
            finally:
                if back is not None:
                    with self.guard(f"SELECT {back}"):
                        self.client.select_folder(back)

        return switch()

    def copy(self, uids: Sequence[Any], dest: str) -> None:
        """Copy, skipping messages whose Message-ID is already in ``dest`` (safe to repeat)."""
        with self.guard(f"COPY to {dest}"):
            ids = self._message_ids(uids)
            present = self.find_message_ids(dest, [i for i in ids.values() if i])
            todo = [u for u in uids if not ids.get(u) or ids[u] not in present]
            if todo:
                self.client.copy(uid_set(todo), dest)

    def _message_ids(self, uids: Sequence[Any]) -> dict[Any, str]:
        data = self._fetch_parsed(uid_set(uids), ["UID", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        out = {}
        for uid, d in data.items():
            raw = next((v for k, v in d.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            values = parse_headers(raw).get("message-id", [])
            out[uid] = values[0].strip() if values else ""
        return out

    def find_message_ids(self, folder: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are in ``folder`` (searched with EXAMINE, so the selection is kept)."""
        if not ids:
            return set()
        found: set[str] = set()
        with self.guard(f"SEARCH {folder}"):
            if not self.client.folder_exists(folder):
                return set()
        with self._elsewhere(folder, readonly=True), self.guard(f"SEARCH {folder}"):
            for i in range(0, len(ids), 40):
                chunk = list(ids[i : i + 40])
                criteria: list[Any] = ["HEADER", "Message-ID", chunk[-1]]
                for mid in chunk[:-1]:
                    criteria = ["OR", "HEADER", "Message-ID", mid, *criteria]
                uids = self.client.search(criteria)
                if uids:
                    found.update(v for v in self._message_ids(uids).values() if v in chunk)
        return found


def is_expunge_issued(exc: IMAPClientError) -> bool:
    return "EXPUNGEISSUED" in str(exc).upper()


@contextmanager
def passing_expunge_issued() -> Iterator[None]:
    """Let ``NO [EXPUNGEISSUED]`` through `ImapMailbox.guard` untouched, for `move` to handle."""
    try:
        yield
    except IMAPClientError as exc:
        if is_expunge_issued(exc):
            raise ExpungeIssued(str(exc)) from None
        raise


class ExpungeIssued(Exception):
    """The server said ``NO [EXPUNGEISSUED]``: some of the messages were expunged meanwhile."""
