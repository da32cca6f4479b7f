"""The service's loader: parsed YAML (and checked templates) remembered, so a restart is quick.

Reading a file costs about 0.1 ms with libyaml (`avflow.fastyaml`, no line numbers) and a
millisecond with ruamel (line numbers); checking its templates about as much again. The service
keeps each file's parsed data in ``$AVFLOW_HOME/cache/yaml.pickle``, keyed by a hash of the
file's bytes: an unchanged file is not parsed again, and every check (models, accounts, secrets,
templates) still runs on it. A file whose modification and change times, size and inode are
those recorded when it was last read is not even opened (as git's index does): after a reboot,
reading 11,000 small files from disk costs about a second; their stats, a few hundredths. Like
any file read without line numbers, a file that has an error is read again with ruamel (see
`Loader.load_workflow`), so errors always carry their line and column. Only entries used by the last load are kept. Templates found clean are remembered too (a
template's check depends only on its text, the variables allowed and the earlier step ids). The
cache is private to the home folder (like ``state.db``). Loaded workflows are `CompactWorkflow`
objects, so 10,000 of them stay small in memory.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from avflow.errors import ConfigError
from avflow.fsutil import atomic_write
from avflow.loader import Client, LoadedWorkflow, Loader
from avflow.models import Workflow
from avflow.plugins import Registry
from avflow.yamlfile import plain

log = structlog.get_logger("avflow.scheduler")
FORMAT = 4
RACY = 2_000_000_000  # ns: how old a file's times must be before its stat stands for its bytes
Stat = tuple[int, int, int, int, str]  # mtime_ns, ctime_ns, size, inode, digest


class CachingLoader(Loader):
    """A `Loader` whose parsing of unchanged files is served from a cache."""

    def __init__(self, registry: Registry, secret_names: Any, cache: Path) -> None:
        super().__init__(registry, secret_names)
        self.cache_path = cache
        self._cache: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._stats: dict[str, Stat] = {}  # path -> its stat and digest, from the last load
        self._seen: dict[str, Stat] = {}  # the same, for this load
        self._clean_templates: set[tuple[Any, ...]] = set()  # checked clean during this load
        self._clean_known: set[tuple[Any, ...]] = set()  # checked clean by earlier loads
        self._blobs: dict[Path, bytes] = {}  # path -> its parsed data, pickled (during a load)
        self.hits = 0
        self.unread = 0  # files known by their stat alone: not even opened

    def _read(self) -> tuple[dict[str, Any], set[tuple[Any, ...]], dict[str, Stat]]:
        try:
            with open(self.cache_path, "rb") as f:
                fmt, data, clean, stats = pickle.load(f)
            if fmt == FORMAT and isinstance(data, dict) and isinstance(clean, set):
                return data, clean, stats
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cache is only a slower start
            log.warning("ignoring the YAML cache", error=str(exc), path=str(self.cache_path))
        return {}, set(), {}

    def load(self, root: Path) -> Any:
        """Load ``root``, then rewrite the cache with the entries this load used (and only those)."""
        self._cache, self._clean_known, self._stats = self._read()
        self._used, self._clean_templates, self._seen = {}, set(), {}
        try:
            return super().load(root)
        finally:
            if (
                self._used.keys() != self._cache.keys()
                or self._clean_templates != self._clean_known
                or self._seen != self._stats
            ):
                data = pickle.dumps(
                    (FORMAT, self._used, self._clean_templates, self._seen),
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
                atomic_write(self.cache_path, data, 0o600)
            self._cache, self._used, self._blobs = {}, {}, {}  # held only while loading
            self._stats, self._seen = {}, {}
            self._clean_known, self._clean_templates = set(), set()
            _trim()

    def read_yaml(self, path: Path) -> Any:
        if path in self._exact:
            return super().read_yaml(path)
        name = str(path)
        try:
            st = os.stat(path)
        except OSError:
            return super().read_yaml(path)  # the parser reports it properly
        stat = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        known = self._stats.get(name)
        if known is not None and known[:4] == stat:  # unchanged since it was read: not read again
            digest = known[4]
            self.unread += 1
        else:
            try:
                data = path.read_bytes()
            except OSError:
                return super().read_yaml(path)
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            known = None
        blob = self._used.get(digest) or self._cache.get(digest)
        if blob is not None:
            self.hits += 1
            self._used[digest] = self._blobs[path] = blob
            self._positionless.add(path)
            self._remember(name, stat, digest, known)
            return pickle.loads(blob)  # one small entry at a time: no big transient heap
        raw = super().read_yaml(path)
        self._used[digest] = self._blobs[path] = pickle.dumps(
            plain(raw), protocol=pickle.HIGHEST_PROTOCOL
        )
        self._remember(name, stat, digest, None)
        return raw

    def _remember(
        self, name: str, stat: tuple[int, int, int, int], digest: str, known: Stat | None
    ) -> None:
        """Keep a file's stat with its digest, once its times are older than RACY: an edit made
        later always changes them (a file changed within the same clock tick as it was read
        could otherwise keep its stat, as git's "racily clean" files can)."""
        if known is not None or max(stat[0], stat[1]) < time.time_ns() - RACY:
            self._seen[name] = (*stat, digest)

    def load_workflow(
        self, client: Client, path: Path
    ) -> tuple[LoadedWorkflow | None, list[ConfigError]]:
        wf, errors = super().load_workflow(client, path)
        blob = self._blobs.get(path)
        if wf is not None and not errors and blob is not None:
            wf = CompactWorkflow(wf, blob)
        return wf, errors

    def _check_template(
        self,
        text: str,
        allowed: frozenset[str],
        earlier: list[str],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        # the same template text in the same position checks the same way: remember clean ones
        key = (text, allowed, tuple(earlier))
        if key in self._clean_templates or key in self._clean_known:
            self._clean_templates.add(key)
            return []
        errors = super()._check_template(text, allowed, earlier, path, raw, loc)
        if not errors:
            self._clean_templates.add(key)
        return errors


class CompactWorkflow(LoadedWorkflow):
    """A checked workflow that keeps only its file's parsed data, pickled (~0.7 KB instead of
    ~2.5 KB of model objects), and validates it again, in about 20 microseconds, each time
    ``model`` is read. The ruamel tree, needed only to locate load-time errors, is not kept, and
    the path is kept as text (a `Path` object with its cached parts is six times larger)."""

    __slots__ = ("_data", "_model", "_path")

    def __init__(self, wf: LoadedWorkflow, data: bytes) -> None:
        self.client, self.id, self.raw = wf.client, wf.id, None
        self._path = str(wf.path)
        self._data = data
        self._model: Workflow | None = None

    @property
    def path(self) -> Path:
        return Path(self._path)

    @path.setter
    def path(self, value: Path) -> None:
        self._path = str(value)

    @property
    def model(self) -> Workflow:
        if self._model is not None:
            return self._model
        return Workflow.model_validate(pickle.loads(self._data))

    @model.setter
    def model(self, value: Workflow) -> None:
        self._model = value


def _trim() -> None:
    """Give the memory freed after a load back to the system (glibc only; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


__all__: Sequence[str] = ["CachingLoader", "CompactWorkflow"]
