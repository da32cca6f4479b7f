"""PDF text extracted by worker processes beside the filing, with the filing process helping.

PDFium (pypdfium2) runs one extraction at a time per process, so the text of many PDFs comes
from worker processes. PDFs go to them a few at a time (one job each `TextPool.CHUNK_PDFS` PDFs
or `TextPool.CHUNK_BYTES`): one round trip per job, not per PDF. When the filing needs a text
that no worker has started on yet (its job still waits in the queue), it takes that job back
and extracts it itself rather than wait: the filing process's core is used instead of idling,
and no PDF is read twice (a job taken back never reaches a worker).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

from avflow_archive.sniff import pdf_text

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def _pdf_texts_of(datas: list[bytes]) -> list[str]:
    """In a worker process: the text of each whole PDF given as bytes."""
    return [pdf_text(data) for data in datas]


class _Job:
    """PDFs handed over together: their bytes, each one's text to come, the worker's job."""

    def __init__(self, waiting: list[tuple[bytes, Future[str]]]) -> None:
        self.datas = [d for d, _ in waiting]
        self.futures = [f for _, f in waiting]
        self.work: Future[list[str]] | None = None


class TextPool:
    """Worker processes extracting PDF text (started on first use); see the module's text."""

    CHUNK_PDFS = 8
    CHUNK_BYTES = 2 << 20

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[tuple[bytes, Future[str]]] = []
        self._bytes = 0
        self._jobs: dict[Future[str], _Job] = {}  # each PDF's text to come -> its job
        self._lock = threading.Lock()

    def submit(self, data: bytes) -> Future[str]:
        future: Future[str] = Future()
        self._waiting.append((data, future))
        self._bytes += len(data)
        if len(self._waiting) >= self.CHUNK_PDFS or self._bytes >= self.CHUNK_BYTES:
            self.send()
        return future

    def send(self) -> None:
        """Hand the PDFs waiting for a job to the workers now."""
        waiting, self._waiting, self._bytes = self._waiting, [], 0
        if not waiting:
            return
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")  # no fork of a threaded process
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        job = _Job(waiting)
        with self._lock:
            self._jobs.update((f, job) for f in job.futures)
        try:
            job.work = self._pool.submit(_pdf_texts_of, job.datas)
        except Exception as exc:  # a pool broken by a worker that died
            self._fail(job, exc)
            return
        job.work.add_done_callback(lambda _: self._settle(job))

    def text(self, future: Future[str]) -> str:
        """The text ``future`` stands for: extracted here if no worker has started on it (and,
        while a worker has, other jobs still queued are extracted here meanwhile)."""
        if not future.done() and any(f is future for _, f in self._waiting):
            self._extract_here(_Job(self._waiting))  # not handed over yet: no round trip
            self._waiting, self._bytes = [], 0
        while not future.done():
            with self._lock:
                job = self._jobs.get(future)
                queued = [j for j in dict.fromkeys(self._jobs.values()) if j is not job]
            taken = job is not None and self._take_back(job)
            # a worker has it: extract the last job still queued meanwhile, if any
            if not taken and not any(self._take_back(j) for j in reversed(queued)):
                break
        return future.result()

    def _take_back(self, job: _Job) -> bool:
        """Extract ``job`` here if no worker has started on it; whether it was."""
        if job.work is None or not job.work.cancel():
            return False
        self._extract_here(job)
        return True

    def _extract_here(self, job: _Job) -> None:
        with self._lock:
            for f in job.futures:
                self._jobs.pop(f, None)
        for data, f in zip(job.datas, job.futures, strict=True):
            try:
                f.set_result(pdf_text(data))
            except Exception as exc:
                f.set_exception(exc)

    def _settle(self, job: _Job) -> None:
        """Hand each PDF of a finished job its text (or the job's failure)."""
        assert job.work is not None
        if job.work.cancelled():
            return  # taken back (`_take_back` extracts it) or dropped by `close`
        with self._lock:
            for f in job.futures:
                self._jobs.pop(f, None)
        try:
            texts = job.work.result()
        except BaseException as exc:  # a worker that died
            self._fail(job, exc)
            return
        for f, text in zip(job.futures, texts, strict=True):
            f.set_result(text)

    def _fail(self, job: _Job, exc: BaseException) -> None:
        with self._lock:
            for f in job.futures:
                self._jobs.pop(f, None)
        for f in job.futures:
            if not f.done():
                f.set_exception(RuntimeError(str(exc) or type(exc).__name__))

    def close(self) -> None:
        for _, future in self._waiting:
            future.cancel()
        self._waiting, self._bytes = [], 0
        with self._lock:
            left, self._jobs = list(self._jobs), {}
        for future in left:
            future.cancel()  # nobody asks for these any more
        if self._pool is not None:
            # every text asked for is in: the workers' exit (their Python's own teardown, up to
            # half a second on a busy machine) overlaps the rest of the run; the pool's thread
            # joins them, and the process waits for that thread before it exits
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
