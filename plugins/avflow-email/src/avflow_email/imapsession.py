"""One IMAP session over the standard library's imaplib: the commands the mailbox sends, and the
connection itself for the pipelined reads of `avflow_email.imap`.

imaplib's ``IMAP4`` is public API (``send``, ``readline`` and ``read`` are documented), so the
fast paths that read answers straight off the connection rely on no private attribute of another
library. The methods here keep imapclient's names and result shapes; failures are imapclient's
public exception classes (imaplib's own errors are those classes), which `ImapMailbox.guard`
turns into one line.
"""

from __future__ import annotations

import imaplib
import re
import select
import ssl
from collections.abc import Iterator, Sequence
from typing import Any

from imapclient import imap_utf7
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

_ATOM = re.compile(r"[A-Za-z0-9:*,.\-]+")
_LIST = re.compile(rb'\((?P<flags>[^)]*)\)\s+(?:NIL|"(?:[^"\\]|\\.)*")\s*(?P<name>.*)$', re.S)
_STATUS = re.compile(rb"\(([^()]*)\)\s*$")
_SELECT_NUMBERS = ("EXISTS", "RECENT", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ")


def quoted(value: str | bytes) -> bytes:
    """``value`` as an IMAP quoted string."""
    raw = value.encode() if isinstance(value, str) else value
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def quoted_folder(folder: str) -> bytes:
    """A folder name as an IMAP quoted string, in modified UTF-7 (RFC 3501 5.1.3)."""
    return quoted(imap_utf7.encode(folder))


def _text(data: Sequence[Any]) -> str:
    last = data[-1] if data else b""
    if isinstance(last, tuple):
        last = last[-1]
    return last.decode("utf-8", "replace") if isinstance(last, bytes) else str(last)


def _lines(data: Sequence[Any]) -> Iterator[bytes]:
    """Untagged answer lines, a literal (a folder name sent as one) put back in place."""
    for item in data:
        if isinstance(item, tuple):
            yield item[0].rsplit(b"{", 1)[0] + quoted(item[1])
        elif item:
            yield item


def _unquote(name: bytes) -> bytes:
    name = name.strip()
    if name.startswith(b'"') and name.endswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", name[1:-1])
    return name


class Session:
    """A logged-in (or about to be) IMAP connection."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        starttls: bool,
        context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        if tls:
            self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=context, timeout=timeout
            )
        else:
            self.imap = imaplib.IMAP4(host, port, timeout=timeout)
        if starttls:
            try:
                self.imap.starttls(context)
            except BaseException:
                self.shutdown()
                raise
        self._caps: tuple[bytes, ...] | None = None
        self.timeout = timeout
        self._idle_tag: bytes | None = None

    def _ok(self, what: str, answer: tuple[str, list[Any]]) -> list[Any]:
        typ, data = answer
        if typ != "OK":
            raise IMAPClientError(f"{what} failed: {_text(data)}")
        return data

    # -- session ---------------------------------------------------------------------------------
    def login(self, user: str, password: str) -> None:
        try:
            self._ok("login", self.imap.login(user, password))
        except IMAPClientError as exc:
            raise LoginError(str(exc)) from None

    def oauth2_login(self, user: str, token: str) -> None:
        """SASL XOAUTH2 (Google, Microsoft)."""
        auth = f"user={user}\1auth=Bearer {token}\1\1".encode()
        try:
            self._ok("authenticate", self.imap.authenticate("XOAUTH2", lambda _: auth))
        except IMAPClientError as exc:
            raise LoginError(str(exc)) from None

    def capabilities(self) -> tuple[bytes, ...]:
        """The server's capabilities: those it sent with the login's answer, else asked for."""
        if self._caps is None:
            sent = self.imap.untagged_responses.pop("CAPABILITY", None)
            if sent:
                self._caps = tuple(sent[0].upper().split())
            elif self.imap.state in ("AUTH", "SELECTED"):
                data = self._ok("capability", self.imap.capability())
                self._caps = tuple(data[0].upper().split())
            else:
                return tuple(c.encode() for c in self.imap.capabilities)
        return self._caps

    def noop(self) -> None:
        self._ok("noop", self.imap.noop())

    def logout(self) -> None:
        self.imap.logout()

    def shutdown(self) -> None:
        self.imap.shutdown()

    # -- folders ---------------------------------------------------------------------------------
    def folder_status(self, folder: str, items: Sequence[str]) -> dict[bytes, int]:
        data = self._ok("status", self.imap.status(quoted_folder(folder), f"({' '.join(items)})"))
        found = _STATUS.search(b"".join(_lines(data)))
        words = found.group(1).split() if found else []
        return {k.upper(): int(v) for k, v in zip(words[::2], words[1::2], strict=False)}

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        self._ok("select", self.imap.select(quoted_folder(folder), readonly))
        out: dict[bytes, Any] = {}
        for key, value in self.imap.untagged_responses.items():
            if key.upper() in _SELECT_NUMBERS and value and value[0] is not None:
                out[key.upper().encode()] = int(value[0])
        return out

    def _list(self, pattern: bytes) -> list[tuple[tuple[bytes, ...], str]]:
        data = self._ok("list", self.imap.list(b'""', pattern))
        out = []
        for line in _lines(data):
            m = _LIST.match(line)
            if m:
                name = imap_utf7.decode(_unquote(m.group("name")))
                out.append((tuple(m.group("flags").split()), name))
        return out

    def folder_exists(self, folder: str) -> bool:
        return bool(self._list(quoted_folder(folder)))

    def create_folder(self, folder: str) -> None:
        self._ok("create", self.imap.create(quoted_folder(folder)))

    def subscribe_folder(self, folder: str) -> None:
        self._ok("subscribe", self.imap.subscribe(quoted_folder(folder)))

    def find_special_folder(self, use: bytes) -> str | None:
        """The folder the server marks with ``use`` (``\\Sent``; RFC 6154), if any."""
        wanted = use.lower()
        for flags, name in self._list(b'"*"'):
            if wanted in (f.lower() for f in flags):
                return name
        return None

    # -- messages (by UID) -----------------------------------------------------------------------
    def search(self, criteria: Sequence[str]) -> list[int]:
        args = [c if _ATOM.fullmatch(c) else quoted(c).decode() for c in criteria]
        data = self._ok("search", self.imap.uid("SEARCH", *args))
        return [int(u) for u in b" ".join(d for d in data if d).split()]

    def _store(self, uids: str, what: str, values: Sequence[str]) -> None:
        self._ok("store", self.imap.uid("STORE", uids, what, f"({' '.join(values)})"))

    def add_flags(self, uids: str, flags: Sequence[str], silent: bool = True) -> None:
        self._store(uids, "+FLAGS.SILENT" if silent else "+FLAGS", flags)

    def remove_flags(self, uids: str, flags: Sequence[str], silent: bool = True) -> None:
        self._store(uids, "-FLAGS.SILENT" if silent else "-FLAGS", flags)

    def add_gmail_labels(self, uids: str, labels: Sequence[str], silent: bool = True) -> None:
        names = [quoted(imap_utf7.encode(label)).decode() for label in labels]
        self._store(uids, "+X-GM-LABELS.SILENT" if silent else "+X-GM-LABELS", names)

    def copy(self, uids: str, folder: str) -> None:
        self._ok("copy", self.imap.uid("COPY", uids, quoted_folder(folder)))

    def uid_expunge(self, uids: str) -> None:
        self._ok("expunge", self.imap.uid("EXPUNGE", uids))

    def append(self, folder: str, message: bytes, flags: Sequence[str] = ()) -> None:
        marks = f"({' '.join(flags)})" if flags else None
        self._ok("append", self.imap.append(quoted_folder(folder).decode(), marks, None, message))

    # -- IDLE (RFC 2177; imaplib has it only from Python 3.14) -------------------------------------
    def idle(self) -> None:
        """Start IDLE: the server then tells of changes as they happen (`idle_check`)."""
        self._idle_tag = b"AVI1"
        self.imap.send(self._idle_tag + b" IDLE\r\n")
        while True:
            line = self.imap.readline()
            if not line:
                raise IMAPClientAbortError("socket error: EOF")
            if line.startswith(b"+"):
                return
            if line.startswith(self._idle_tag + b" "):
                self._idle_tag = None
                raise IMAPClientError(f"IDLE failed: {line.decode('utf-8', 'replace').strip()}")

    def idle_check(self, timeout: float) -> list[tuple[Any, ...]]:
        """The untagged answers the server sent while idling, waiting up to ``timeout`` seconds
        for the first; ``[]`` if none came (or the connection closed: check with a NOOP)."""
        sock = self.imap.socket()
        if not select.select([sock], [], [], timeout)[0]:
            return []
        out: list[tuple[Any, ...]] = []
        sock.setblocking(False)
        try:
            while True:
                try:
                    line = self.imap.readline()
                except (OSError, ValueError):  # nothing more to read now
                    break
                if not line:
                    break
                out.append(_untagged(line))
        finally:
            sock.settimeout(self.timeout)
        return out

    def idle_done(self) -> None:
        """End IDLE and read up to its completion."""
        tag, self._idle_tag = self._idle_tag, None
        if tag is None:
            return
        self.imap.send(b"DONE\r\n")
        while True:
            line = self.imap.readline()
            if not line:
                raise IMAPClientAbortError("socket error: EOF")
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1 :].upper().startswith(b"OK"):
                    raise IMAPClientError(f"IDLE failed: {line.decode('utf-8', 'replace').strip()}")
                return


def _untagged(line: bytes) -> tuple[Any, ...]:
    """``* 4 EXISTS`` as ``(4, b"EXISTS")``; ``* OK Still here`` as ``(b"OK", b"Still here")``."""
    body = line.rstrip(b"\r\n").removeprefix(b"* ")
    head, _, rest = body.partition(b" ")
    if head.isdigit():
        kind, _, more = rest.partition(b" ")
        return (int(head), kind.upper(), more) if more else (int(head), kind.upper())
    return (head.upper(), rest)
