"""A text worker: a process of its own extracting the text of the PDFs the filing hands it.

Started by `avflow_archive.textpool` (this module's `run`, in the Python that runs avflow, with
the folder this package was imported from on its path), with one end of
a Unix ``SOCK_SEQPACKET`` socket as its standard input and a pipe as its standard output. Each
message it receives is one job: a job number and each PDF's size, with the PDFs' open file
descriptors attached (``SCM_RIGHTS``). It reads each PDF from its descriptor (no bytes are
copied through the pipe, and the file is the one the filing opened and checked, never reopened
by name), extracts its text and writes back one frame per job: ``!QI`` (job, count), each
text's length (``!I`` each), then the texts (UTF-8). It imports nothing of avflow, and it exits
when the socket reaches its end (the filing closed it, or was killed).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys

from avflow_archive.pdftext import fd_text

HEADER = struct.Struct("!QI")
MAX_FDS = 64
MAX_MESSAGE = 16 + 8 * MAX_FDS


def encode(job: int, texts: list[str]) -> bytes:
    blobs = [t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = struct.pack(f"!{len(blobs)}I", *(len(b) for b in blobs))
    return HEADER.pack(job, len(blobs)) + lengths + b"".join(blobs)


def main() -> None:
    sock = socket.socket(fileno=0)
    out = sys.stdout.buffer
    while True:
        message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
        if not message:
            return
        job, count = HEADER.unpack_from(message)
        sizes = struct.unpack_from(f"!{count}Q", message, HEADER.size)
        texts = []
        for fd, size in zip(fds, sizes, strict=True):
            try:
                texts.append(fd_text(fd, size))
            except Exception:  # unreadable: filed without text, as a damaged PDF is
                texts.append("")
            finally:
                os.close(fd)
        out.write(encode(job, texts))
        out.flush()


def run() -> None:
    """`main`, ending quietly when the filing is gone (killed, or its pipe closed)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        main()


if __name__ == "__main__":
    run()
