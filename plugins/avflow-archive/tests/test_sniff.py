"""Sniffing: the shortcut for PDF heads answers what `filetype` answers for them."""

from __future__ import annotations

import os

import filetype
import pytest
from avflow_archive.sniff import sniff


def _filetype(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return None if kind is None else str(kind.mime)


def _with(head: bytes, at: int, mark: bytes) -> bytes:
    head = head.ljust(at + len(mark) + 8, b" ")
    return head[:at] + mark + head[at + len(mark) :]


@pytest.mark.parametrize("size", [5, 64, 300, 8192])
def test_pdf_heads_are_sniffed_as_filetype_does(pdf, size):
    heads = [pdf("Fattura 12")[:size], (b"%PDF-1.7\n" + os.urandom(8192))[:size]]
    heads += [_with(h, 128, b"DICM") for h in heads] + [_with(h, 257, b"ustar") for h in heads]
    for head in heads:
        assert sniff(head) == (_filetype(head) or "application/pdf"), head[:20]


def test_a_pdf_head_with_a_tar_mark_is_what_filetype_says():
    head = _with(b"%PDF-1.4\n", 257, b"ustar")
    assert sniff(head) == "application/x-tar" == _filetype(head)
