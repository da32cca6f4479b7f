"""The IMAP mailbox: few round trips (one STATUS, chunked header FETCHes, one MOVE per folder)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.response_parser import parse_fetch_response

import avflow
from avflow_email.backend import DELETED, FolderState, uid_set
from avflow_email.imap_settings import ImapSettings
from avflow_email.imapfolders import ExpungeIssued, FolderOps, passing_expunge_issued, quoted_folder
from avflow_email.imapwire import FETCH_LINE, LITERAL, TAGGED, parse_header_fetch, tls_context
from avflow_email.match import Needs
from avflow_email.message import Mail, attachments_from_structure, parse_headers
from avflow_email.moves import Opening
from avflow_email.recover import Recovery


def _b(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class ImapMailbox(FolderOps):
    """One IMAP connection for one step. Folder names are str (modified UTF-7 is handled)."""

    kind = "imap"

    def __init__(self, name: str, settings: ImapSettings, access_token: str | None = None) -> None:
        self.name = name
        self.s = settings
        self.where = f"account {name!r} ({settings.host}:{settings.effective_port})"
        self.selected: str | None = None
        self._tag = 0
        self._completed: dict[bytes, bytes] = {}  # tag -> answer, for pipelined commands
        self._token = access_token
        self._opening: list[Opening] = []  # siblings being opened ahead of need
        self.recovery: Recovery | None = None  # set while finishing an interrupted plan
        with self.guard("cannot connect"):
            self.client = self._connect()
        try:
            with self.guard("login failed"):
                if settings.auth == "xoauth2":
                    self.client.oauth2_login(settings.username, access_token or "")
                else:
                    self.client.login(settings.username, settings.password or "")
        except BaseException:
            self._drop()
            raise
        # Servers that list their capabilities in the login answer save the CAPABILITY round
        # trip: imaplib keeps that answer, and imapclient's capabilities() reads it.
        with self.guard("capability"):
            self.caps = {_b(c).upper() for c in self.client.capabilities()}

    @property
    def parallel_moves(self) -> int:
        """How many connections `avflow_email.moves` may move messages over at once."""
        return self.s.move_connections

    def prepare_siblings(self, n: int) -> None:
        """Start opening ``n`` `sibling` connections in the background, while this one works."""
        self._opening += [Opening(self._new_sibling) for _ in range(n)]

    def sibling(self) -> ImapMailbox:
        """Another connection to the same account, with the same folder selected (one that
        `prepare_siblings` opened, if any is left)."""
        try:
            opening = self._opening.pop()
        except IndexError:
            return self._new_sibling()
        return opening.result()

    def _new_sibling(self) -> ImapMailbox:
        other = ImapMailbox(self.name, self.s, self._token)
        other.recovery = self.recovery
        try:
            if self.selected is not None:
                other.select(self.selected)
        except BaseException:
            other._drop()
            raise
        return other

    def _connect(self) -> IMAPClient:
        s = self.s
        if s.security == "tls":
            return IMAPClient(
                s.host,
                s.effective_port,
                ssl=True,
                ssl_context=tls_context(s.ca_file),
                timeout=s.timeout,
            )
        client = IMAPClient(s.host, s.effective_port, ssl=False, timeout=s.timeout)
        if s.security == "starttls":
            try:
                client.starttls(tls_context(s.ca_file))
            except BaseException:
                client.shutdown()
                raise
        return client

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn what the network and the server say into one clear line."""
        try:
            yield
        except avflow.StepFailed:
            raise
        except ssl.SSLCertVerificationError as exc:
            raise avflow.StepFailed(
                f"{self.where}: the server's certificate was rejected "
                f"({exc.verify_message}); set ca_file if it is self-signed"
            ) from None
        except ssl.SSLError as exc:
            raise avflow.StepFailed(f"{self.where}: TLS failed: {exc.reason or exc}") from None
        except LoginError:
            raise avflow.StepFailed(
                f"{self.where}: login failed for {self.s.username!r}: "
                "wrong user name, password or token"
            ) from None
        except (IMAPClientAbortError, ConnectionError, TimeoutError, EOFError) as exc:
            raise avflow.StepFailed(
                f"{self.where}: connection lost ({doing}): {exc or type(exc).__name__}"
            ) from None
        except socket.gaierror as exc:
            raise avflow.StepFailed(f"{self.where}: unknown host: {exc.strerror}") from None
        except OSError as exc:
            raise avflow.StepFailed(f"{self.where}: {doing}: {exc.strerror or exc}") from None
        except IMAPClientError as exc:
            raise avflow.StepFailed(f"{self.where}: {doing}: {_b(exc)}") from None

    # -- folders ----------------------------------------------------------------------------------
    def status(self, folder: str) -> FolderState:
        items = ["UIDVALIDITY", "UIDNEXT", "MESSAGES"]
        if "CONDSTORE" in self.caps:
            items.append("HIGHESTMODSEQ")
        try:
            with self.guard(f"STATUS {folder}"):
                st = self.client.folder_status(folder, items)
        except avflow.StepFailed as exc:
            if "exist" in str(exc).lower():
                raise avflow.StepFailed(f"{self.where}: folder {folder!r} does not exist") from None
            raise
        return FolderState(
            int(st[b"UIDVALIDITY"]),
            int(st[b"UIDNEXT"]),
            int(st[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in st else None,
            int(st[b"MESSAGES"]),
        )

    def select(self, folder: str) -> FolderState:
        try:
            with self.guard(f"SELECT {folder}"):
                info = self.client.select_folder(folder)
        except avflow.StepFailed as exc:
            if "exist" in str(exc).lower():
                raise avflow.StepFailed(f"{self.where}: folder {folder!r} does not exist") from None
            raise
        self.selected = folder
        return FolderState(
            int(info[b"UIDVALIDITY"]),
            int(info.get(b"UIDNEXT", 0)) or None,
            int(info[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in info else None,
            int(info.get(b"EXISTS", 0)),
        )

    def folder_exists(self, folder: str) -> bool:
        with self.guard("LIST"):
            return bool(self.client.folder_exists(folder))

    def create_folder(self, folder: str) -> None:
        with self.guard(f"CREATE {folder}"):
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)
                with suppress(IMAPClientError):
                    self.client.subscribe_folder(folder)

    def special_folder(self, use: str, default: str) -> str:
        with self.guard("LIST"):
            found = (
                self.client.find_special_folder(use.encode())
                if "SPECIAL-USE" in self.caps
                else None
            )
        return str(found) if found else default

    # -- reading ----------------------------------------------------------------------------------
    def new_messages(self, after: Any) -> list[int]:
        last = int(after or 0)
        with self.guard("SEARCH"):
            found = self.client.search(["UID", f"{last + 1}:*"])
        # "UID n:*" always includes the last message, even when its UID is below n.
        return sorted(int(u) for u in found if int(u) > last)

    def _raw(self, command: bytes) -> list[Any]:
        """Send one command and read its answer straight off the connection (see `_read`)."""
        return self._read(self._send(command))

    def _send(self, command: bytes) -> bytes:
        self._tag += 1
        tag = b"AVF%d" % self._tag
        self.client._imap.send(tag + b" " + command + b"\r\n")
        return tag

    def _read(self, tag: bytes) -> list[Any]:
        """Read up to ``tag``'s completion: untagged FETCH responses in imaplib's shape
        (``(line, literal)`` tuples and lines). Other untagged responses (the thousands of
        EXPUNGEs a big MOVE produces) are dropped without imaplib's per-line bookkeeping, the
        largest client-side cost of a big triage."""
        imap = self.client._imap
        data: list[Any] = []
        while tag not in self._completed:
            line = imap.readline()
            if not line:
                raise IMAPClientAbortError("socket error: EOF")
            done = TAGGED.match(line)
            if done:  # this command's completion, or a pipelined one's (they may finish first)
                self._completed[done.group(1)] = line[done.end() :]
                continue
            m = FETCH_LINE.match(line)
            text = m.group(1) + b" " + m.group(2) if m else line
            while (lit := LITERAL.search(text)) is not None:
                literal = imap.read(int(lit.group(1)))
                if m:
                    data.append((text.rstrip(b"\r\n"), literal))
                text = imap.readline()
                if not text:
                    raise IMAPClientAbortError("socket error: EOF")
            if m:
                data.append(text.rstrip(b"\r\n"))
        answer = self._completed.pop(tag)
        if answer[:2].upper() != b"OK":
            raise IMAPClientError(answer.decode("utf-8", "replace").strip())
        return data

    def _fetch(self, uids: str, items: list[str]) -> list[Any]:
        """``UID FETCH`` of a sequence set (imapclient's fetch wants every UID on the line)."""
        return self._raw(f"UID FETCH {uids} ({' '.join(items)})".encode())

    def _fetch_parsed(self, uids: str, items: list[str]) -> dict[int, dict[bytes, Any]]:
        return dict(parse_fetch_response(self._fetch(uids, items), True, True))

    def fetch(
        self,
        uids: Sequence[Any],
        needs: Needs,
        on_chunk: Callable[[list[Mail]], None] | None = None,
    ) -> list[Mail]:
        """Headers (and FLAGS; RFC822.SIZE and INTERNALDATE only if a rule reads them) of
        ``uids``, in chunks; the next chunk is asked for before this one is parsed, so the server
        reads messages while we parse, and while ``on_chunk`` looks at the ones just parsed."""
        fields = " ".join(sorted(h.upper() for h in needs.headers))
        items = ["UID", "FLAGS", f"BODY.PEEK[HEADER.FIELDS ({fields})]"]
        if needs.size:
            items.insert(1, "RFC822.SIZE")
        if needs.age:
            items.append("INTERNALDATE")
        ordered = sorted(int(u) for u in uids)
        step = self.s.fetch_chunk
        chunks = [ordered[i : i + step] for i in range(0, len(ordered), step)]
        found: dict[int, Mail] = {}
        wanted = set(ordered)
        command = f"({' '.join(items)})"
        tags: list[bytes] = []
        with self.guard("FETCH headers"):
            tags += [self._send(f"UID FETCH {uid_set(c)} {command}".encode()) for c in chunks[:1]]
        for k in range(len(chunks)):
            arrived: list[Mail] = []
            with self.guard("FETCH headers"):
                if k + 1 < len(chunks):
                    tags.append(
                        self._send(f"UID FETCH {uid_set(chunks[k + 1])} {command}".encode())
                    )
                # A server may run pipelined FETCHes in parallel and interleave their answers:
                # what arrives before this tag's completion can belong to the next chunk too.
                for uid, size, flags, when, raw in parse_header_fetch(self._read(tags[k])):
                    if uid in wanted and uid not in found:  # not unsolicited FLAGS updates
                        mail = found[uid] = Mail(uid, parse_headers(raw), size, flags, when)
                        arrived.append(mail)
            if on_chunk is not None:  # while the server reads the next chunk's messages
                on_chunk(arrived)
        missing = wanted - set(found)
        if missing:
            raise avflow.StepFailed(
                f"{self.where}: the server did not return {len(missing)} of the "
                f"{len(wanted)} new messages ({uid_set(sorted(missing))[:80]})"
            )
        return [found[u] for u in ordered]

    def load_structure(self, mails: Sequence[Mail]) -> None:
        if not mails:
            return
        with self.guard("FETCH BODYSTRUCTURE"):
            data = self._fetch_parsed(uid_set(m.uid for m in mails), ["UID", "BODYSTRUCTURE"])
        for m in mails:
            bs = data.get(m.uid, {}).get(b"BODYSTRUCTURE")
            m.attachments_ = attachments_from_structure(bs) if bs is not None else []

    def fetch_full(self, uids: Sequence[Any]) -> dict[Any, bytes]:
        if not uids:
            return {}
        out: dict[Any, bytes] = {}
        ordered = sorted(int(u) for u in uids)
        for i in range(0, len(ordered), 200):
            with self.guard("FETCH body"):
                data = self._fetch_parsed(uid_set(ordered[i : i + 200]), ["UID", "BODY.PEEK[]"])
            out.update({uid: d.get(b"BODY[]") or b"" for uid, d in data.items() if uid in uids})
        return out

    def load_full(self, mails: Sequence[Mail]) -> None:
        full = self.fetch_full([m.uid for m in mails])
        for m in mails:
            m.full = full.get(m.uid, b"")

    # -- changing ---------------------------------------------------------------------------------
    def set_flag(self, uids: Sequence[Any], flag: str, add: bool) -> None:
        with self.guard("STORE"):
            if add:
                self.client.add_flags(uid_set(uids), [flag], silent=True)
            else:
                self.client.remove_flags(uid_set(uids), [flag], silent=True)

    def add_label(self, uids: Sequence[Any], label: str) -> None:
        with self.guard("STORE label"):
            if "X-GM-EXT-1" in self.caps:
                self.client.add_gmail_labels(uid_set(uids), [label], silent=True)
            else:  # elsewhere a label is an IMAP keyword (what Thunderbird calls a tag)
                self.client.add_flags(uid_set(uids), [label], silent=True)

    def move(self, uids: Sequence[Any], dest: str) -> None:
        """One ``UID MOVE``; or COPY + STORE \\Deleted + ``UID EXPUNGE`` of just these UIDs.

        Messages expunged meanwhile by another session (``NO [EXPUNGEISSUED]``) are looked for
        again, not failed. When finishing an interrupted plan (`recovery`), what is already in
        ``dest`` is not moved again (see `avflow_email.recover`).
        """
        todo = list(uids)
        for _ in range(8):
            if self.recovery is not None:
                todo = self.recovery.to_move(self, todo, dest)
            if not todo:
                return
            try:
                self._move_once(todo, dest)
                return
            except ExpungeIssued:
                todo = self.present(todo)  # some were expunged meanwhile: move the others
        raise avflow.StepFailed(
            f"{self.where}: MOVE to {dest}: messages kept disappearing while moving; try again"
        )

    def _move_once(self, uids: Sequence[Any], dest: str) -> None:
        if "MOVE" in self.caps:
            with self.guard(f"MOVE to {dest}"), passing_expunge_issued():
                self._raw(b"UID MOVE " + uid_set(uids).encode() + b" " + quoted_folder(dest))
            return
        if "UIDPLUS" not in self.caps:
            raise avflow.StepFailed(
                f"{self.where}: the server offers neither MOVE nor UIDPLUS, "
                "so a move could expunge other messages; not moving"
            )
        self.copy(uids, dest)
        with self.guard(f"MOVE to {dest}"):
            self.client.add_flags(uid_set(uids), [DELETED], silent=True)
            self.client.uid_expunge(uid_set(uids))

    def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> None:
        with self.guard(f"APPEND {folder}"):
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)
            self.client.append(folder, data, flags=list(flags))

    # -- closing ----------------------------------------------------------------------------------
    def close(self) -> None:
        while self._opening:
            self._opening.pop().discard()
        try:
            self.client.logout()
        except Exception:
            self._drop()

    def _drop(self) -> None:
        with suppress(Exception):
            self.client.shutdown()
