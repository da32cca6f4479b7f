"""A message as the rules see it: decoded headers, size, date, attachments and body text.

Headers come first and cheaply (a header FETCH, or the top of a Maildir file); the attachment list
and the body are loaded only when a rule asks for them: asking before they are loaded raises
`NeedStructure` or `NeedBody`, so the triage can fetch them for every such message in one batch.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

_FOLD = re.compile(r"\r?\n[ \t]+")
# RFC 5322 ends a header line at CRLF (a bare LF in files on disk); never at U+2028, U+2029,
# U+0085, form feed or a lone CR, which str.splitlines would also split at (RFC 6532 headers).
_LINE_END = re.compile(r"\r?\n")
# The usual RFC 5322 date ("Thu, 01 Jan 2026 00:00:00 +0100"), read without the general parser;
# anything else (no seconds, two-digit years, comments, obsolete zones) goes to email.utils.
_DATE = re.compile(
    r"(?:[A-Za-z]{3}, ?)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_ZONES: dict[str, timezone] = {}
_TAGS = re.compile(r"<[^>]+>")


class NeedStructure(Exception):
    """The rules need this message's attachment list."""


class NeedBody(Exception):
    """The rules need this message's text."""


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words (``=?utf-8?q?...?=``); leave anything else alone."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def parse_date(raw: str) -> datetime | None:
    """A Date header as an aware datetime (UTC when the zone is ``-0000`` or missing), or None."""
    m = _DATE.fullmatch(raw.strip())
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is not None and month is not None:
        d, _, y, hh, mm, ss, sign, zh, zm = m.groups()
        zone = sign + zh + zm
        tz = _ZONES.get(zone)
        if tz is None:
            offset = timedelta(hours=int(zh), minutes=int(zm))
            # "-0000" means "zone unknown": read as UTC, as parsedate_to_datetime's naive result is.
            tz = _ZONES[zone] = UTC if not offset else timezone(-offset if sign == "-" else offset)
        try:
            return datetime(int(y), month, int(d), int(hh), int(mm), int(ss), tzinfo=tz)
        except ValueError:
            pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_headers(raw: bytes) -> dict[str, list[str]]:
    """Header block -> lower-case name -> decoded values (unfolded)."""
    text = raw.decode("utf-8", "replace")
    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)
    out: dict[str, list[str]] = {}
    for line in _LINE_END.split(text):
        name, sep, value = line.partition(":")
        if sep and name and not name[0].isspace():
            value = value.strip()
            if "=?" in value:
                value = decode_words(value)
            key = name.strip().lower()
            found = out.get(key)
            if found is None:
                out[key] = [value]
            else:
                found.append(value)
    return out


@dataclass
class Attachment:
    """A file attached to a message."""

    name: str
    type: str
    size: int


@dataclass
class Mail:
    """One message of the folder being triaged. ``uid`` is the IMAP UID or the Maildir key."""

    uid: Any
    headers: dict[str, list[str]]
    size: int = 0
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    attachments_: list[Attachment] | None = None
    full: bytes | None = None
    _parsed: EmailMessage | None = field(default=None, repr=False)
    _addresses: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    # -- headers ----------------------------------------------------------------------------------
    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])

    def first(self, name: str) -> str:
        values = self.header(name)
        return values[0] if values else ""

    def addresses(self, name: str) -> list[str]:
        key = name.lower()
        found = self._addresses.get(key)
        if found is None:
            found = self._addresses[key] = [
                a.lower() for _, a in getaddresses(self.header(key)) if a
            ]
        return found

    @property
    def message_id(self) -> str:
        return self.first("message-id").strip()

    @property
    def sender(self) -> str:
        found = self.addresses("from")
        return found[0] if found else ""

    @property
    def date(self) -> datetime | None:
        raw = self.first("date")
        when = parse_date(raw) if raw else None
        return self.internal_date if when is None else when

    @property
    def is_list(self) -> bool:
        """Mailing-list or bulk mail (RFC 2369/2919 headers, or Precedence: list/bulk/junk)."""
        if self.header("list-id") or self.header("list-unsubscribe") or self.header("list-post"):
            return True
        return self.first("precedence").strip().lower() in ("list", "bulk", "junk")

    # -- structure and body -----------------------------------------------------------------------
    @property
    def attachments(self) -> list[Attachment]:
        if self.attachments_ is None:
            if self.full is None:
                raise NeedStructure()
            self.attachments_ = [Attachment(n, t, len(p)) for n, t, p in self.attachment_payloads()]
        return self.attachments_

    @property
    def parsed(self) -> EmailMessage:
        if self._parsed is None:
            if self.full is None:
                raise NeedBody()
            msg = email.message_from_bytes(self.full, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            self._parsed = msg
        return self._parsed

    @property
    def body(self) -> str:
        part = self.parsed.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        try:
            text = part.get_content()
        except (LookupError, ValueError):
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if part.get_content_subtype() == "html":
            text = _TAGS.sub(" ", text)
        return str(text)

    def attachment_payloads(self) -> Iterator[tuple[str, str, bytes]]:
        """(file name, MIME type, bytes) of every attachment."""
        for i, part in enumerate(self.parsed.walk()):
            if part.is_multipart():
                continue
            filename = part.get_filename()
            if part.get_content_disposition() != "attachment" and not filename:
                continue
            payload = part.get_payload(decode=True)
            name = decode_words(filename) if filename else f"attachment-{i}"
            yield name, part.get_content_type(), payload if isinstance(payload, bytes) else b""

    def summary(self) -> dict[str, Any]:
        """What the outputs say about the message (made once; the headers do not change)."""
        if self._summary is None:
            when = self.date
            self._summary = {
                "uid": self.uid,
                "message_id": self.message_id,
                "from": self.first("from"),
                "subject": self.first("subject"),
                "date": when.isoformat() if when else None,
            }
        return self._summary


# -- IMAP BODYSTRUCTURE ---------------------------------------------------------------------------
def _s(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else ("" if v is None else str(v))


def _params(raw: Any) -> dict[str, str]:
    if not isinstance(raw, list | tuple):
        return {}
    items = list(raw)
    pairs = {_s(items[i]).lower(): _s(items[i + 1]) for i in range(0, len(items) - 1, 2)}
    out: dict[str, str] = {}
    for key, value in pairs.items():
        if key.endswith("*"):  # RFC 2231: charset''percent-encoded
            from email.utils import collapse_rfc2231_value, decode_rfc2231

            out[key.rstrip("*")] = str(collapse_rfc2231_value(decode_rfc2231(value)))
        else:
            out.setdefault(key, decode_words(value))
    return out


def _leaves(bs: Any) -> Iterable[Any]:
    if isinstance(bs, tuple | list) and bs and isinstance(bs[0], list | tuple):
        for part in bs[0]:
            yield from _leaves(part)
    else:
        yield bs


def attachments_from_structure(bs: Any) -> list[Attachment]:
    """The attachment list from an IMAP BODYSTRUCTURE (no body download)."""
    out = []
    for part in _leaves(bs):
        if not isinstance(part, tuple | list) or len(part) < 7:
            continue
        mtype, subtype = _s(part[0]).lower(), _s(part[1]).lower()
        ext = (
            7
            + (1 if mtype == "text" else 0)
            + (3 if (mtype, subtype) == ("message", "rfc822") else 0)
        )
        disposition = part[ext + 1] if len(part) > ext + 1 else None
        kind, dparams = "", {}
        if isinstance(disposition, tuple | list) and disposition:
            kind = _s(disposition[0]).lower()
            dparams = _params(disposition[1] if len(disposition) > 1 else None)
        name = dparams.get("filename") or _params(part[2]).get("name", "")
        if kind != "attachment" and not name:
            continue
        size = int(part[6] or 0)
        if _s(part[5]).lower() == "base64":
            size = size * 3 // 4
        out.append(Attachment(name or f"attachment.{subtype}", f"{mtype}/{subtype}", size))
    return out
