"""PDF text extracted by worker processes beside the filing, with the filing process helping.

PDFium (pypdfium2) runs one extraction at a time per process, so the text of many PDFs comes
from worker processes (`avflow_archive.pdfworker`: Python and pypdfium2 alone, not avflow).
PDFs go to them a few at a time (one job each `TextPool.CHUNK_PDFS` PDFs or
`TextPool.CHUNK_BYTES`), as open file descriptors passed over a Unix socket: the worker reads
the file the filing opened (never reopened by name) and no PDF's bytes go through a pipe. Each
worker is handed at most `TextPool.IN_FLIGHT` jobs at a time; the others wait here. When the
filing needs a text whose job still waits, it takes that job back and extracts it itself rather
than wait; while a worker has the job it waits for, it takes back the last job still waiting:
the filing process's core is used instead of idling, and no PDF is extracted twice.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future, InvalidStateError
from typing import IO

from avflow_archive import pdftext
from avflow_archive.pdfworker import HEADER

_LENGTH = struct.Struct("!I")
# the worker imports this package from where it was imported here if not found before
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_START = "import sys; sys.path.append(sys.argv[1]); import avflow_archive.pdfworker as w; w.run()"
# glibc's malloc in a worker: fixed thresholds, so that the buffers of one PDF after another are
# reused rather than mapped and unmapped (or the heap trimmed) each time: otherwise about 130
# page faults a PDF, a fifth of the worker's CPU in the kernel (measured: 0.42 s of system time
# for 1,300 PDFs, 0.09 s with these)
_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def usable() -> bool:
    """Whether workers can be given descriptors here (Unix sockets with ``SCM_RIGHTS``)."""
    return hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def _complain(what: str, error: str) -> None:
    import structlog

    structlog.get_logger("avflow.archive").debug(what, error=error)


def _settle(future: Future[str], outcome: str | Exception) -> None:
    """Give ``future`` its text or failure, unless it was cancelled meanwhile (`close`)."""
    try:
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass


class _Job:
    """PDFs handed over together: a descriptor (a duplicate, the job's own) and size each."""

    def __init__(self, number: int, pdfs: list[tuple[int, int, Future[str]]]) -> None:
        self.number = number
        self.fds = [fd for fd, _, _ in pdfs]
        self.sizes = [size for _, size, _ in pdfs]
        self.futures = [f for _, _, f in pdfs]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class _Worker:
    """One worker process, its socket, and the jobs it has."""

    def __init__(self, pool: TextPool) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _START, _ROOT],
                stdin=theirs.fileno(),
                stdout=subprocess.PIPE,
                env={**_MALLOC, **os.environ},
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.jobs: dict[int, _Job] = {}
        assert self.proc.stdout is not None
        reader = threading.Thread(
            target=pool._read, args=(self, self.proc.stdout), name="archive-text", daemon=True
        )
        reader.start()

    def send(self, job: _Job) -> None:
        message = HEADER.pack(job.number, len(job.fds)) + struct.pack(
            f"!{len(job.sizes)}Q", *job.sizes
        )
        self.jobs[job.number] = job
        socket.send_fds(self.sock, [message], job.fds)
        job.close()  # the worker has its own copies now

    def close(self) -> None:
        self.sock.close()  # the worker's end of file: it exits after its job under way


class TextPool:
    """Worker processes extracting PDF text (started on first use); see the module's text."""

    CHUNK_PDFS = 4  # a waiting filing waits for at most two jobs of four (8: twice as long)
    CHUNK_BYTES = 2 << 20
    IN_FLIGHT = 2  # jobs a worker has at once: one it works on, one ready for it

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._workers: list[_Worker] = []
        self._gathering: list[tuple[int, int, Future[str]]] = []
        self._bytes = 0
        self._queue: deque[_Job] = deque()  # jobs no worker has yet
        self._jobs: dict[Future[str], _Job] = {}  # each PDF's text to come -> its job
        self._numbers = 0
        self._lock = threading.Lock()
        self._broken: str | None = None

    def submit(self, fd: int, size: int) -> Future[str]:
        """The text of the PDF open as ``fd`` (``size`` bytes) to come; the pool keeps its
        own duplicate of the descriptor, so ``fd`` may be closed at once."""
        future: Future[str] = Future()
        self._gathering.append((os.dup(fd), size, future))
        self._bytes += size
        if len(self._gathering) >= self.CHUNK_PDFS or self._bytes >= self.CHUNK_BYTES:
            self.send()
        return future

    def send(self) -> None:
        """Hand the PDFs gathered so far to the workers as one job."""
        gathered, self._gathering, self._bytes = self._gathering, [], 0
        if not gathered:
            return
        with self._lock:
            self._numbers += 1
            job = _Job(self._numbers, gathered)
            self._jobs.update((f, job) for f in job.futures)
            self._queue.append(job)
            if not self._workers and self._broken is None:
                self._start()
            self._dispatch()

    def _start(self) -> None:
        """Start the workers (with the lock held)."""
        try:
            self._workers = [_Worker(self) for _ in range(self.workers)]
        except OSError as exc:  # no process to be had: the texts are extracted here
            self._broken = f"cannot start a text worker: {exc.strerror or exc}"

    def _dispatch(self) -> None:
        """Give each worker jobs from the queue, up to `IN_FLIGHT` each (lock held)."""
        for worker in self._workers:
            while self._queue and len(worker.jobs) < self.IN_FLIGHT:
                job = self._queue.popleft()
                try:
                    worker.send(job)
                except OSError:  # the worker is gone: its reader fails what it had
                    worker.jobs.pop(job.number, None)
                    self._queue.appendleft(job)
                    break

    def text(self, future: Future[str]) -> str:
        """The text ``future`` stands for: extracted here if no worker has it (and, while a
        worker has it, jobs still waiting are extracted here meanwhile)."""
        if not future.done() and any(f is future for _, _, f in self._gathering):
            gathered, self._gathering, self._bytes = self._gathering, [], 0
            self._extract_here(_Job(0, gathered))  # not handed over yet: no round trip
        while not future.done():
            with self._lock:
                job = self._jobs.get(future)
                if job is not None and job in self._queue:
                    self._queue.remove(job)
                elif self._queue:
                    job = self._queue.pop()  # a worker has it: take the last one waiting
                else:
                    job = None
            if job is None:
                break
            self._extract_here(job)
        return future.result()

    def _extract_here(self, job: _Job) -> None:
        with self._lock:
            for f in job.futures:
                self._jobs.pop(f, None)
        try:
            for fd, size, f in zip(job.fds, job.sizes, job.futures, strict=True):
                try:
                    f.set_result(pdftext.fd_text(fd, size, _complain))
                except Exception as exc:
                    f.set_exception(exc)
        finally:
            job.close()

    def _read(self, worker: _Worker, out: IO[bytes]) -> None:
        """In a thread per worker: hand each PDF of each finished job its text."""
        problem = "the text worker ended"
        try:
            while head := out.read(HEADER.size):
                number, count = HEADER.unpack(head)
                lengths = struct.unpack(f"!{count}I", out.read(_LENGTH.size * count))
                texts = [out.read(n).decode("utf-8", "surrogatepass") for n in lengths]
                with self._lock:
                    job = worker.jobs.pop(number)
                    for f in job.futures:
                        self._jobs.pop(f, None)
                    self._dispatch()
                for f, text in zip(job.futures, texts, strict=True):
                    _settle(f, text)
        except Exception as exc:  # a frame cut short (the worker died mid-write), or garbled
            problem = f"the text worker failed: {type(exc).__name__}: {exc}"
        self._lost(worker, problem)

    def _lost(self, worker: _Worker, problem: str) -> None:
        """The worker's output ended: whatever it still had gets no text (it died), and jobs
        still waiting are extracted here (or by the other workers)."""
        worker.close()
        with self._lock:
            left, worker.jobs = list(worker.jobs.values()), {}
            if worker in self._workers:
                self._workers.remove(worker)
            if not self._workers and self._broken is None:
                self._broken = problem
        for job in left:
            for f in job.futures:
                self._jobs.pop(f, None)
                _settle(f, RuntimeError(problem))
        if worker.proc.poll() is None:
            worker.proc.kill()  # its output is garbled: it is of no more use
        worker.proc.wait()

    def close(self) -> None:
        for fd, _, future in self._gathering:
            os.close(fd)
            future.cancel()
        self._gathering, self._bytes = [], 0
        with self._lock:
            queued, self._queue = list(self._queue), deque()
            left, self._jobs = list(self._jobs), {}
            workers, self._workers = self._workers, []
        for job in queued:
            job.close()
        for future in left:
            future.cancel()  # nobody asks for these any more
        for worker in workers:
            # every text asked for is in: the worker's exit overlaps the rest of the run (its
            # reader thread waits for it)
            worker.close()
