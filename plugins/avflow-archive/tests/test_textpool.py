"""The PDF text pool: worker processes extract the text from descriptors passed to them, and the
filing process takes back a job no worker has when it needs one of its texts (rather than
wait)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from avflow_archive import pdftext, textpool
from avflow_archive.textpool import TextPool

WORDS = [f"parola{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(48)]


def _opened(tmp_path: Path, pdf, texts: list[str]) -> list[tuple[int, int]]:
    """Each text as a PDF file, opened: (descriptor, size) each."""
    out = []
    for n, text in enumerate(texts):
        path = tmp_path / f"{n}.pdf"
        path.write_bytes(pdf(text))
        out.append((os.open(path, os.O_RDONLY), path.stat().st_size))
    return out


def test_every_text_comes_back_to_its_pdf_some_extracted_here(monkeypatch, pdf, tmp_path):
    here: list[str] = []
    real = pdftext.fd_text

    def counted(fd: int, size: int, complain=None) -> str:
        text = real(fd, size, complain)
        here.append(text)
        return text

    monkeypatch.setattr(pdftext, "fd_text", counted)  # this process only: workers are new
    files = _opened(tmp_path, pdf, [f"Fattura {w}" for w in WORDS])
    pool = TextPool(1)
    try:
        futures = [pool.submit(fd, size) for fd, size in files]
        for fd, _ in files:
            os.close(fd)  # the pool has its own descriptors
        texts = [pool.text(f) for f in reversed(futures)]  # the last first: still queued
    finally:
        pool.close()
    assert [t.strip() for t in reversed(texts)] == [f"Fattura {w}" for w in WORDS]
    assert here, "no job was taken back from the queue"
    assert len(here) < len(WORDS), "no worker extracted anything"
    assert len(set(here)) == len(here), "a PDF was extracted twice here"


def test_texts_asked_for_before_their_job_is_handed_over_need_no_worker(pdf, tmp_path):
    few = WORDS[: TextPool.CHUNK_PDFS - 1]  # fewer than a job
    files = _opened(tmp_path, pdf, [f"Uno {w}" for w in few])
    pool = TextPool(1)
    try:
        futures = [pool.submit(fd, size) for fd, size in files]
        assert pool.text(futures[1]).strip() == f"Uno {few[1]}"
        assert all(f.done() for f in futures)  # the PDFs gathered with it, extracted with it
        assert [f.result().strip() for f in futures] == [f"Uno {w}" for w in few]
        assert not pool._workers, "a worker was started for texts already extracted"
    finally:
        pool.close()
        for fd, _ in files:
            os.close(fd)


def test_a_worker_reads_the_descriptor_not_the_name(pdf, tmp_path):
    """The file handed over is the one opened: renamed or replaced by name afterwards, the
    worker still reads the opened file."""
    files = _opened(tmp_path, pdf, [f"Aperto {w}" for w in WORDS[:16]])
    for n in range(16):
        (tmp_path / f"{n}.pdf").unlink()
        (tmp_path / f"{n}.pdf").write_bytes(pdf("Sostituito"))
    pool = TextPool(1)
    try:
        futures = [pool.submit(fd, size) for fd, size in files]
        for fd, _ in files:
            os.close(fd)
        pool.send()
        texts = [f.result(timeout=60) for f in futures]  # from the worker, none taken back
    finally:
        pool.close()
    assert [t.strip() for t in texts] == [f"Aperto {w}" for w in WORDS[:16]]


def test_a_worker_that_dies_fails_its_jobs_and_the_rest_are_extracted_here(pdf, tmp_path):
    files = _opened(tmp_path, pdf, [f"Due {w}" for w in WORDS])
    pool = TextPool(1)
    try:
        futures = [pool.submit(fd, size) for fd, size in files[:8]]  # two jobs, to the worker
        (worker,) = pool._workers
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        later = [pool.submit(fd, size) for fd, size in files[8:]]
        pool.send()
        outcomes = []
        for f in futures:
            try:
                outcomes.append(pool.text(f).strip())
            except RuntimeError:
                outcomes.append(None)
        assert [pool.text(f).strip() for f in later] == [f"Due {w}" for w in WORDS[8:]]
    finally:
        pool.close()
        for fd, _ in files:
            os.close(fd)
    # each text came whole from the worker before it died, or not at all
    assert all(o in (None, f"Due {w}") for o, w in zip(outcomes, WORDS, strict=False))


def test_the_workers_import_nothing_of_avflow():
    """A worker is Python and pypdfium2: its start-up is not avflow's."""
    import subprocess
    import sys

    code = (
        "import sys, avflow_archive.pdfworker; "
        "print(sorted(m for m in sys.modules if m == 'avflow' or m.startswith('avflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert textpool.usable()
