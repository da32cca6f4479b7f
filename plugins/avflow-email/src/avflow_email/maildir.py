"""The Maildir mailbox: a local Maildir++ tree, laid out as Dovecot and Courier lay it out.

``INBOX`` is the root; folder ``A/B`` is the directory ``.A.B`` (names in modified UTF-7). A message
is known by its file name's unique part (before ``:2,``), which a move keeps, so every change is
a rename and safe to repeat. Labels are Dovecot keywords (``dovecot-keywords``, letters a-z).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from imapclient import imap_utf7

import avflow
from avflow_email.backend import FolderState
from avflow_email.match import Needs
from avflow_email.message import Mail, parse_headers

FLAG_LETTERS = {
    "\\Seen": "S",
    "\\Flagged": "F",
    "\\Deleted": "T",
    "\\Draft": "D",
    "\\Answered": "R",
}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}


def _split(filename: str) -> tuple[str, str]:
    key, _, info = filename.partition(":2,")
    return key, info


def _read_header(path: Path) -> bytes:
    with path.open("rb") as f:
        data = b""
        while True:
            chunk = f.read(8192)
            data += chunk
            for sep in (b"\r\n\r\n", b"\n\n"):
                at = data.find(sep)
                if at >= 0:
                    return data[:at]
            if not chunk:
                return data


class MaildirMailbox:
    """A local Maildir. Every operation is a rename or an atomic write."""

    kind = "maildir"

    def __init__(self, name: str, path: str, create: bool = True) -> None:
        self.name = name
        self.root = Path(path).expanduser()
        self.selected: str | None = None
        self.listed: set[str] = set()  # the keys of the selected folder at the last look
        if not (self.root / "cur").is_dir():
            if not create:
                raise avflow.StepFailed(f"account {name!r}: {self.root} is not a Maildir")
            self._make(self.root)

    # -- folders ----------------------------------------------------------------------------------
    def path(self, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self.root
        parts = [imap_utf7.encode(p).decode() for p in folder.strip("/").split("/")]
        return self.root / ("." + ".".join(parts))

    @staticmethod
    def _make(path: Path) -> None:
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def folder_exists(self, folder: str) -> bool:
        return (self.path(folder) / "cur").is_dir()

    def create_folder(self, folder: str) -> None:
        path = self.path(folder)
        self._make(path)
        if path != self.root:
            (path / "maildirfolder").touch()

    def special_folder(self, use: str, default: str) -> str:
        return default

    def _need(self, folder: str) -> Path:
        path = self.path(folder)
        if not (path / "cur").is_dir():
            raise avflow.StepFailed(
                f"account {self.name!r}: folder {folder!r} does not exist ({path})"
            )
        return path

    def _files(self, folder: str) -> dict[str, tuple[str, str]]:
        """key -> (subdir, file name)."""
        path = self._need(folder)
        out = {}
        for sub in ("new", "cur"):
            for entry in os.scandir(path / sub):
                if not entry.name.startswith("."):
                    out[_split(entry.name)[0]] = (sub, entry.name)
        return out

    def status(self, folder: str) -> FolderState:
        path = self._need(folder)
        token = [os.stat(path / sub).st_mtime_ns for sub in ("new", "cur")]
        return FolderState("maildir", None, None, len(self._files(folder)), token=token)

    def select(self, folder: str) -> FolderState:
        state = self.status(folder)
        self.selected = folder
        return state

    # -- reading ----------------------------------------------------------------------------------
    def new_messages(self, after: Any) -> list[str]:
        assert self.selected is not None
        seen = set(after or [])
        self.listed = set(self._files(self.selected))
        return sorted(k for k in self.listed if k not in seen)

    def fetch(
        self,
        uids: Sequence[Any],
        needs: Needs,
        on_chunk: Callable[[list[Mail]], None] | None = None,
    ) -> list[Mail]:
        assert self.selected is not None
        base = self.path(self.selected)
        files = self._files(self.selected)
        mails = []
        for key in uids:
            if key not in files:
                continue
            sub, name = files[key]
            p = base / sub / name
            try:
                raw, st = _read_header(p), p.stat()
            except FileNotFoundError:
                continue
            from datetime import UTC, datetime

            flags = tuple(LETTER_FLAGS[c] for c in _split(name)[1] if c in LETTER_FLAGS)
            mails.append(
                Mail(
                    key,
                    parse_headers(raw),
                    st.st_size,
                    flags,
                    datetime.fromtimestamp(st.st_mtime, UTC),
                )
            )
        return mails

    def fetch_full(self, uids: Sequence[Any]) -> dict[Any, bytes]:
        assert self.selected is not None
        base, files = self.path(self.selected), self._files(self.selected)
        out = {}
        for key in uids:
            if key in files:
                sub, name = files[key]
                out[key] = (base / sub / name).read_bytes()
        return out

    def load_full(self, mails: Sequence[Mail]) -> None:
        full = self.fetch_full([m.uid for m in mails])
        for m in mails:
            m.full = full.get(m.uid, b"")

    load_structure = load_full

    # -- changing ---------------------------------------------------------------------------------
    def _rename_all(self, uids: Sequence[Any], dest_dir: Path | None, info: Any) -> None:
        assert self.selected is not None
        base, files = self.path(self.selected), self._files(self.selected)
        for key in uids:
            if key not in files:
                continue  # already moved: a repeat is a no-op
            sub, name = files[key]
            letters = info(_split(name)[1])
            target = (dest_dir or base) / "cur" / f"{key}:2,{''.join(sorted(set(letters)))}"
            os.replace(base / sub / name, target)

    def _letter(self, flag: str) -> str:
        if flag in FLAG_LETTERS:
            return FLAG_LETTERS[flag]
        assert self.selected is not None
        kwfile = self.path(self.selected) / "dovecot-keywords"
        names = {}
        if kwfile.exists():
            for line in kwfile.read_text().splitlines():
                idx, _, kw = line.partition(" ")
                names[kw] = int(idx)
        if flag not in names:
            if len(names) >= 26:
                raise avflow.StepFailed(
                    f"account {self.name!r}: too many labels (26 at most on a Maildir)"
                )
            names[flag] = max(names.values(), default=-1) + 1
            tmp = kwfile.with_suffix(".tmp")
            tmp.write_text(
                "".join(f"{i} {kw}\n" for kw, i in sorted(names.items(), key=lambda x: x[1]))
            )
            os.replace(tmp, kwfile)
        return chr(ord("a") + names[flag])

    def set_flag(self, uids: Sequence[Any], flag: str, add: bool) -> None:
        letter = self._letter(flag)
        self._rename_all(
            uids, None, lambda info: info + letter if add else info.replace(letter, "")
        )

    def add_label(self, uids: Sequence[Any], label: str) -> None:
        self.set_flag(uids, label, True)

    def move(self, uids: Sequence[Any], dest: str) -> None:
        target = self.path(dest)
        if not (target / "cur").is_dir():
            raise avflow.StepFailed(f"account {self.name!r}: folder {dest!r} does not exist")
        self._rename_all(uids, target, lambda info: info)

    def copy(self, uids: Sequence[Any], dest: str) -> None:
        assert self.selected is not None
        base, files, target = self.path(self.selected), self._files(self.selected), self._need(dest)
        existing = set(self._files(dest))
        for key in uids:
            copy_key = f"{key}.copy"
            if key in files and copy_key not in existing:
                sub, name = files[key]
                tmp = target / "tmp" / copy_key
                shutil.copyfile(base / sub / name, tmp)
                os.replace(tmp, target / "cur" / f"{copy_key}:2,{_split(name)[1]}")

    def find_message_ids(self, folder: str, ids: Sequence[str]) -> set[str]:
        if not ids or not self.folder_exists(folder):
            return set()
        wanted, found = set(ids), set()
        base = self.path(folder)
        for sub, name in self._files(folder).values():
            values = parse_headers(_read_header(base / sub / name)).get("message-id", [])
            if values and values[0].strip() in wanted:
                found.add(values[0].strip())
        return found

    def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> None:
        if not self.folder_exists(folder):
            self.create_folder(folder)
        base = self.path(folder)
        key = f"{time.time_ns() // 1_000_000_000}.M{uuid.uuid4().hex[:12]}.{socket.gethostname()}"
        letters = "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))
        tmp = base / "tmp" / key
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, base / "cur" / f"{key}:2,{letters}")

    def close(self) -> None:
        self.selected = None
