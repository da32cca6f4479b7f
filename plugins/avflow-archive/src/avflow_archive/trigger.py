"""The ``archive.new_file`` trigger: a drop folder watched with watchfiles.

A file fires an event only once it has *settled*: its size and modification time have not
changed for ``settle`` seconds, so a scanner still writing a PDF is not taken half-written.
Files already in the folder when the watch starts count as new (they arrived while the service
was down). One event carries every file that settled together::

    {"folder": "/srv/scans/acme", "files": [{"path": ..., "name": ..., "size": ...}, ...]}
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from avflow import TriggerContext
from avflow_archive import dropfolder
from avflow_archive.watch_params import NewFileParams


@dataclass
class _Pending:
    signature: str  # dropfolder.signature: size, mtime, device, inode
    since: float  # monotonic time the signature was first seen


class Settler:
    """Tracks files until they have stopped changing for ``settle`` seconds."""

    def __init__(self, params: NewFileParams, folder: Path) -> None:
        self.params = params
        self.folder = folder
        self.pending: dict[Path, _Pending] = {}
        self.fired: dict[Path, str] = {}

    def _wanted(self, path: Path) -> bool:
        if dropfolder.ignored(path.name):
            return False
        rel = path.relative_to(self.folder)
        if not self.params.recursive and len(rel.parts) > 1:
            return False
        if any(dropfolder.ignored(p) for p in rel.parts[:-1]):
            return False
        return any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in self.params.include)

    def see(self, path: Path, now: float) -> None:
        """Note that ``path`` may have changed."""
        try:
            st = os.lstat(path)
        except OSError:
            self.pending.pop(path, None)
            self.fired.pop(path, None)
            return
        if not stat.S_ISREG(st.st_mode) or not self._wanted(path):
            return
        signature = dropfolder.signature(st)
        if self.fired.get(path) == signature:
            return  # already reported, unchanged
        current = self.pending.get(path)
        if current is None or current.signature != signature:
            self.pending[path] = _Pending(signature, now)

    def scan(self, now: float) -> None:
        """See every file of the folder (at start, and to catch missed notifications)."""
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = (
                [d for d in dirs if not dropfolder.ignored(d)] if self.params.recursive else []
            )
            for name in files:
                self.see(Path(root) / name, now)

    def settled(self, now: float) -> list[dict[str, object]]:
        """Files unchanged for ``settle`` seconds, re-checked on disk; each is reported once."""
        out = []
        for path in sorted(self.pending):
            self.see(path, now)  # catch writes the watcher has not reported yet
            entry = self.pending.get(path)
            if entry is None or now - entry.since < self.params.settle:
                continue
            del self.pending[path]
            self.fired[path] = entry.signature
            size = int(entry.signature.split(":", 1)[0])
            # the signature lets the step take the file at once: it was watched settle
            out.append(
                {"path": str(path), "name": path.name, "size": size, "signature": entry.signature}
            )
        return out


def watch(ctx: TriggerContext, params: NewFileParams) -> None:
    """Block, firing one event per batch of settled files, until ``ctx.stopping`` is set."""
    folder = dropfolder.folder_of(params, ctx.client)
    settler = Settler(params, folder)
    settler.scan(time.monotonic())
    tick_ms = max(50, int(min(params.poll, max(params.settle, 0.05)) * 1000))
    ctx.log.info("watching drop folder", folder=str(folder), settle=params.settle)
    for changes in watchfiles.watch(
        folder,
        stop_event=ctx.stopping,
        rust_timeout=tick_ms,
        yield_on_timeout=True,
        debounce=min(tick_ms, 1600),
        step=50,
        recursive=params.recursive,
        watch_filter=None,
        ignore_permission_denied=True,
    ):
        now = time.monotonic()
        for _change, raw in changes:
            path = Path(raw)
            if path.is_dir() and not path.is_symlink():
                settler.scan(now)  # a folder moved in: its files are new
            else:
                settler.see(path, now)
        ready = settler.settled(now)
        if ready:
            ctx.log.info("files settled in drop folder", folder=str(folder), files=len(ready))
            ctx.fire({"folder": str(folder), "files": ready})
        if ctx.stopping.is_set():
            return
