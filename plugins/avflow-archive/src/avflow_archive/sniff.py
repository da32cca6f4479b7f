"""What a file really is: its hash, its content type sniffed from the bytes, and its text."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from avflow_archive.source import Source

if TYPE_CHECKING:
    from avflow_archive.textpool import TextPool

CHUNK = 1 << 20
SNIFF_BYTES = 8192
MAX_TEXT_CHARS = 200_000
MAX_PDF_PAGES = 50
MAX_PDF_BYTES = 50 << 20
EOF_WINDOW = 64 << 10
POOL_MAX_BYTES = 16 << 20  # larger PDFs are read in this process, not copied to a worker

_PDFIUM = threading.Lock()


def _log() -> Any:
    """The plugin's logger (structlog is imported when there is something to log, not when
    ``avflow validate`` loads the plugin)."""
    import structlog

    return structlog.get_logger("avflow.archive")


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
        import filetype

        kind = filetype.get_type(mime=self.type)
        if kind is not None:
            return str(kind.extension)
        return _EXT.get(self.type, "bin")


def inspect(source: Source) -> Content:
    """Hash the open file and sniff its type from its first bytes (not from its name)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    while True:
        # as much as the file holds and one byte more (a buffer of CHUNK costs more to make
        # than a small file to read): one read for most files, a short one saying it ended
        want = min(CHUNK, source.size - size + 1) if size < source.size else CHUNK
        chunk = os.pread(source.fd, want, size)
        if not head:
            head = chunk[:SNIFF_BYTES]
        digest.update(chunk)
        size += len(chunk)
        if len(chunk) < want:
            break
    return Content(digest.hexdigest(), size, sniff(head))


def sniff(head: bytes) -> str:
    """The MIME type of content starting with ``head``."""
    import filetype

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
    """The searchable text of a PDF (PDFium) or plain-text file; empty when there is none."""
    if content.type == "text/plain":
        data = os.pread(source.fd, min(content.size, MAX_TEXT_CHARS * 4), 0)
        return data.decode("utf-8", errors="replace")[:MAX_TEXT_CHARS]
    if content.type != "application/pdf" or content.size > MAX_PDF_BYTES:
        return ""
    if b"%%EOF" not in os.pread(source.fd, EOF_WINDOW, max(0, content.size - EOF_WINDOW)):
        return ""  # no end-of-file marker: damaged or truncated: no text to read
    return pdf_text(os.pread(source.fd, content.size, 0), source.path.name)


def pdf_text(data: bytes, label: str = "") -> str:
    """The text of the PDF ``data``: its first `MAX_PDF_PAGES` pages, `MAX_TEXT_CHARS` at most.

    PDFium (pypdfium2) reads it; PDFium is not thread-safe, so one extraction runs at a time in
    a process (the worker pool gives parallelism across processes).
    """
    import pypdfium2

    parts: list[str] = []
    total = 0
    with _PDFIUM:
        try:
            doc = pypdfium2.PdfDocument(data)
        except Exception as exc:  # a damaged or encrypted PDF is filed all the same, without text
            _log().debug("no text from pdf", file=label, error=str(exc)[:200])
            return ""
        try:
            for i in range(min(len(doc), MAX_PDF_PAGES)):
                page = doc[i]
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                page.close()
                parts.append(text)
                total += len(text)
                if total >= MAX_TEXT_CHARS:
                    break
        except Exception as exc:
            _log().debug("text cut short", file=label, error=str(exc)[:200])
        finally:
            doc.close()
    return "\n".join(parts)[:MAX_TEXT_CHARS]


class LazyText:
    """A file's text, extracted the first time a rule or the index asks for it (then kept).

    `prefetch` starts a PDF's extraction in the worker pool now, while the file is open, so the
    index gets it later without waiting; without a pool the text is extracted when asked for.
    """

    def __init__(self, source: Source, content: Content) -> None:
        self._source = source
        self._content = content
        self._text: str | None = None
        self._future: Future[str] | None = None
        self._pool: TextPool | None = None

    def prefetch(self, pool: TextPool | None) -> None:
        content = self._content
        if self._text is not None or self._future is not None:
            return
        if pool is None or content.type != "application/pdf" or content.size > POOL_MAX_BYTES:
            self._text = extract_text(self._source, content)  # now, while the file is open
            return
        tail = os.pread(self._source.fd, EOF_WINDOW, max(0, content.size - EOF_WINDOW))
        if b"%%EOF" not in tail:
            self._text = ""  # damaged or truncated: no text to read
            return
        self._pool = pool
        self._future = pool.submit(os.pread(self._source.fd, content.size, 0))

    def __call__(self) -> str:
        if self._text is None:
            if self._future is not None:
                try:
                    if self._pool is not None:
                        self._text = self._pool.text(self._future)
                    else:
                        self._text = self._future.result()
                except Exception as exc:  # a worker that died: the document is filed without text
                    _log().warning("no text from pdf", file=self._source.path.name, error=str(exc))
                    self._text = ""
                self._future = None
            else:
                self._text = extract_text(self._source, self._content)
        return self._text
