"""Reading IMAP answers fast: the one response shape of the header FETCH, and TLS contexts."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=16)
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates and host names are checked; loading the trust store is done once."""
    return ssl.create_default_context(cafile=ca_file)


TAGGED = re.compile(rb"(AVF\d+) ")
FETCH_LINE = re.compile(rb"\* (\d+) FETCH (.*)", re.S)
LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
START = re.compile(rb"\d+ \(")
UID = re.compile(rb"\bUID (\d+)")
SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
IDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')


def parse_header_fetch(
    data: list[Any],
) -> Iterator[tuple[int, int, tuple[str, ...], datetime | None, bytes]]:
    """A fast reader for the one response shape of the header FETCH (tens of thousands of lines:
    a general IMAP parser is the slowest part of a large triage)."""
    text, literal = b"", b""
    for item in data:
        if isinstance(item, tuple):
            if text:
                yield header_item(text, literal)
            text, literal = item[0], item[1]
        elif START.match(item):  # a response without a literal starts a new message
            if text:
                yield header_item(text, literal)
            text, literal = item, b""
        else:  # the rest of the current response, after its literal
            text += item
    if text:
        yield header_item(text, literal)


def header_item(
    text: bytes, literal: bytes
) -> tuple[int, int, tuple[str, ...], datetime | None, bytes]:
    uid = UID.search(text)
    size = SIZE.search(text)
    flags = FLAGS.search(text)
    idate = IDATE.search(text)
    when = datetime.strptime(idate.group(1).decode(), "%d-%b-%Y %H:%M:%S %z") if idate else None
    return (
        int(uid.group(1)) if uid else -1,
        int(size.group(1)) if size else 0,
        tuple(flags.group(1).decode().split()) if flags else (),
        when,
        literal,
    )
