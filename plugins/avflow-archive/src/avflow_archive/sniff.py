"""What a file really is: its hash, its content type sniffed from the bytes, and its text."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import filetype
import structlog

from avflow_archive.source import Source

log = structlog.get_logger("avflow.archive")

CHUNK = 1 << 20
SNIFF_BYTES = 8192
MAX_TEXT_CHARS = 200_000
MAX_PDF_PAGES = 50
MAX_PDF_BYTES = 50 << 20
EOF_WINDOW = 64 << 10

# pypdf reports damaged files through the logging module; a damaged PDF is normal input here.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_EXT = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/octet-stream": "bin",
}


@dataclass(frozen=True)
class Content:
    """A file's SHA-256, size and sniffed MIME type."""

    sha256: str
    size: int
    type: str

    @property
    def ext(self) -> str:
        """The usual extension of the sniffed type (``pdf``), or ``bin``."""
        kind = filetype.get_type(mime=self.type)
        if kind is not None:
            return str(kind.extension)
        return _EXT.get(self.type, "bin")


def inspect(source: Source) -> Content:
    """Hash the open file and sniff its type from its first bytes (not from its name)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with source.reader() as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:SNIFF_BYTES]
            digest.update(chunk)
            size += len(chunk)
    return Content(digest.hexdigest(), size, sniff(head))


def sniff(head: bytes) -> str:
    """The MIME type of content starting with ``head``."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if head.lstrip().startswith(b"%PDF-") or head.startswith(b"%PDF"):
        return "application/pdf"
    if not head:
        return "application/x-empty"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut by the sniff window is still text
            if exc.start < len(head) - 4:
                return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"


def extract_text(source: Source, content: Content) -> str:
    """The searchable text of a PDF (pypdf) or plain-text file; empty when there is none."""
    if content.type == "text/plain":
        with source.reader() as f:
            return f.read(MAX_TEXT_CHARS * 4).decode("utf-8", errors="replace")[:MAX_TEXT_CHARS]
    if content.type != "application/pdf" or content.size > MAX_PDF_BYTES:
        return ""
    with source.reader() as f:
        f.seek(max(0, content.size - EOF_WINDOW))
        if b"%%EOF" not in f.read():
            return ""  # no end-of-file marker: damaged or truncated, pypdf could not read it
    from pypdf import PdfReader

    try:
        reader = PdfReader(source.reader(), strict=False)
        parts: list[str] = []
        total = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            text = page.extract_text() or ""
            parts.append(text)
            total += len(text)
            if total >= MAX_TEXT_CHARS:
                break
        return "\n".join(parts)[:MAX_TEXT_CHARS]
    except Exception as exc:  # a damaged or encrypted PDF is filed all the same, without text
        log.debug("no text from pdf", file=source.path.name, error=str(exc)[:200])
        return ""


class LazyText:
    """A file's text, extracted the first time a rule or the index asks for it (then kept)."""

    def __init__(self, source: Source, content: Content) -> None:
        self._source = source
        self._content = content
        self._text: str | None = None

    def __call__(self) -> str:
        if self._text is None:
            self._text = extract_text(self._source, self._content)
        return self._text
