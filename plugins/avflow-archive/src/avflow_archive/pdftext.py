"""A PDF's text, read from an open descriptor by PDFium (pypdfium2).

Imports nothing of avflow: the text workers (`avflow_archive.pdfworker`) import this module and
pypdfium2 alone, so a worker starts in a tenth of a second of CPU rather than loading avflow.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

MAX_TEXT_CHARS = 200_000
MAX_PDF_PAGES = 50
MAX_PDF_BYTES = 50 << 20
EOF_WINDOW = 64 << 10

_PDFIUM = threading.Lock()

Complain = Callable[[str, str], None]  # (what happened, the error): for a debug log line


def read_pdf(fd: int, size: int) -> bytes | None:
    """The bytes of the PDF open as ``fd`` (``size`` bytes), or None when it has no text to
    read: too big, or no end-of-file marker (damaged or truncated)."""
    if size > MAX_PDF_BYTES:
        return None
    if b"%%EOF" not in os.pread(fd, EOF_WINDOW, max(0, size - EOF_WINDOW)):
        return None
    return os.pread(fd, size, 0)


def pdf_text(data: bytes, complain: Complain | None = None) -> str:
    """The text of the PDF ``data``: its first `MAX_PDF_PAGES` pages, `MAX_TEXT_CHARS` at most.

    PDFium is not thread-safe, so one extraction runs at a time in a process (the text workers
    give parallelism across processes). A damaged or encrypted PDF has no text ("").
    """
    import pypdfium2

    parts: list[str] = []
    total = 0
    with _PDFIUM:
        try:
            doc = pypdfium2.PdfDocument(data)
        except Exception as exc:
            if complain is not None:
                complain("no text from pdf", str(exc)[:200])
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
            if complain is not None:
                complain("text cut short", str(exc)[:200])
        finally:
            doc.close()
    return "\n".join(parts)[:MAX_TEXT_CHARS]


def fd_text(fd: int, size: int, complain: Complain | None = None) -> str:
    """The text of the PDF open as ``fd`` (see `read_pdf` and `pdf_text`)."""
    data = read_pdf(fd, size)
    return "" if data is None else pdf_text(data, complain)
