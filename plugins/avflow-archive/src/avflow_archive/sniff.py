"""What a file really is: its hash, its content type sniffed from the bytes, and its text."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from avflow_archive import pdftext
from avflow_archive.source import Source

if TYPE_CHECKING:
    from avflow_archive.textpool import TextPool

CHUNK = 1 << 20
SNIFF_BYTES = 8192
MAX_TEXT_CHARS = pdftext.MAX_TEXT_CHARS


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
    if head.startswith(b"%PDF-") and head[128:132] != b"DICM" and head[257:262] != b"ustar":
        # what `filetype` answers for this head (no matcher before its PDF one can take a
        # head starting so, but a DICOM's or a tar's mark further in), without its 59 others
        return "application/pdf"
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
    if content.type != "application/pdf":
        return ""
    return pdftext.fd_text(source.fd, content.size, _complain(source.path.name))


def _complain(label: str) -> pdftext.Complain:
    def complain(what: str, error: str) -> None:
        _log().debug(what, file=label, error=error)

    return complain


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
        if pool is None or content.type != "application/pdf":
            self._text = extract_text(self._source, content)  # now, while the file is open
            return
        try:
            self._future = pool.submit(self._source.fd, content.size)  # it keeps a duplicate
        except OSError:  # no descriptor to be had for it (too many open): extracted now
            self._text = extract_text(self._source, content)
            return
        self._pool = pool

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
