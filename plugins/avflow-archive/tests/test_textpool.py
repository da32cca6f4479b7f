"""The PDF text pool: worker processes extract the text, and the filing process takes back a
job no worker has started on when it needs one of its texts (rather than wait)."""

from __future__ import annotations

from avflow_archive import textpool
from avflow_archive.textpool import TextPool

WORDS = [f"parola{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(48)]


def test_every_text_comes_back_to_its_pdf_some_extracted_here(monkeypatch, pdf):
    here: list[str] = []
    real = textpool.pdf_text

    def counted(data: bytes, label: str = "") -> str:
        text = real(data, label)
        here.append(text)
        return text

    monkeypatch.setattr(textpool, "pdf_text", counted)  # this process only: workers are new
    pool = TextPool(1)
    try:
        futures = [pool.submit(pdf(f"Fattura {w}")) for w in WORDS]
        texts = [pool.text(f) for f in reversed(futures)]  # the last first: still queued
    finally:
        pool.close()
    assert [t.strip() for t in reversed(texts)] == [f"Fattura {w}" for w in WORDS]
    assert here, "no job was taken back from the queue"
    assert len(here) < len(WORDS), "no worker extracted anything"
    assert len(set(here)) == len(here), "a PDF was extracted twice here"


def test_texts_asked_for_before_their_job_is_handed_over_need_no_worker(pdf):
    pool = TextPool(1)
    try:
        futures = [pool.submit(pdf(f"Uno {w}")) for w in WORDS[:5]]  # fewer than a job
        assert pool.text(futures[2]).strip() == f"Uno {WORDS[2]}"
        assert all(f.done() for f in futures)  # the PDFs gathered with it, extracted with it
        assert [f.result().strip() for f in futures] == [f"Uno {w}" for w in WORDS[:5]]
        assert pool._pool is None, "a worker was started for texts already extracted"
    finally:
        pool.close()
