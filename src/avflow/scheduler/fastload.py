"""The service's loader: parsed YAML (and checked templates) remembered, so a restart is quick.

Parsing YAML with line numbers (ruamel) costs about a millisecond a file: 10,000 workflows take
many seconds. The service keeps each file's parsed data in ``$AVFLOW_HOME/cache/yaml.pickle``,
keyed by a hash of the file's bytes: an unchanged file is not parsed again, and every check
(models, accounts, secrets, templates) still runs on it. A file that has any error is parsed
again the slow way, so errors always carry their line and column. Only entries used by the
last load are kept. Templates found clean are remembered too (a template's check depends only on
its text, the variables allowed and the earlier step ids). The cache is private to the home
folder (like ``state.db``). Loaded workflows are `CompactWorkflow` objects, so 10,000 of them
stay small in memory.
"""

from __future__ import annotations

import hashlib
import pickle
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
FORMAT = 3


class CachingLoader(Loader):
    """A `Loader` whose parsing of unchanged files is served from a cache."""

    def __init__(self, registry: Registry, secret_names: Any, cache: Path) -> None:
        super().__init__(registry, secret_names)
        self.cache_path = cache
        self._cache: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._dirty = False
        self._cached_paths: set[Path] = set()
        self._exact: set[Path] = set()
        self._clean_templates: set[tuple[Any, ...]] = set()  # checked clean during this load
        self._clean_known: set[tuple[Any, ...]] = set()  # checked clean by earlier loads
        self._blobs: dict[Path, bytes] = {}  # path -> its parsed data, pickled (during a load)
        self.hits = 0

    def _read(self) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
        try:
            with open(self.cache_path, "rb") as f:
                fmt, data, clean = pickle.load(f)
            if fmt == FORMAT and isinstance(data, dict) and isinstance(clean, set):
                return data, clean
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cache is only a slower start
            log.warning("ignoring the YAML cache", error=str(exc), path=str(self.cache_path))
        return {}, set()

    def load(self, root: Path) -> Any:
        """Load ``root``, then rewrite the cache with the entries this load used (and only those)."""
        self._cache, self._clean_known = self._read()
        self._used, self._clean_templates = {}, set()
        try:
            return super().load(root)
        finally:
            if (
                self._used.keys() != self._cache.keys()
                or self._clean_templates != self._clean_known
            ):
                data = pickle.dumps(
                    (FORMAT, self._used, self._clean_templates), protocol=pickle.HIGHEST_PROTOCOL
                )
                atomic_write(self.cache_path, data, 0o600)
            self._cache, self._used, self._blobs = {}, {}, {}  # held only while loading
            self._clean_known, self._clean_templates = set(), set()
            _trim()

    def read_yaml(self, path: Path) -> Any:
        if path in self._exact:
            return super().read_yaml(path)
        try:
            data = path.read_bytes()
        except OSError:
            return super().read_yaml(path)  # the parser reports it properly
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        blob = self._used.get(digest) or self._cache.get(digest)
        if blob is not None:
            self.hits += 1
            self._used[digest] = self._blobs[path] = blob
            self._cached_paths.add(path)
            return pickle.loads(blob)  # one small entry at a time: no big transient heap
        raw = super().read_yaml(path)
        self._used[digest] = self._blobs[path] = pickle.dumps(
            plain(raw), protocol=pickle.HIGHEST_PROTOCOL
        )
        self._cached_paths.discard(path)
        return raw

    # a file whose cached data shows an error is loaded again with line numbers
    def load_client(self, cdir: Path) -> tuple[Client | None, list[ConfigError]]:
        client, errors = super().load_client(cdir)
        profile = cdir / "client.yaml"
        if profile in self._cached_paths and any(_in(e, profile) for e in errors):
            self._exact.add(profile)
            try:
                client, errors = super().load_client(cdir)
            finally:
                self._exact.discard(profile)
        return client, errors

    def load_workflow(
        self, client: Client, path: Path
    ) -> tuple[LoadedWorkflow | None, list[ConfigError]]:
        wf, errors = super().load_workflow(client, path)
        if errors and path in self._cached_paths:
            self._exact.add(path)
            try:
                wf, errors = super().load_workflow(client, path)
            finally:
                self._exact.discard(path)
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
    ``model`` is read. The ruamel tree, needed only to locate load-time errors, is not kept."""

    def __init__(self, wf: LoadedWorkflow, data: bytes) -> None:
        self.client, self.id, self.path, self.raw = wf.client, wf.id, wf.path, None
        self._data = data
        self._model: Workflow | None = None

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


def _in(err: ConfigError, path: Path) -> bool:
    return err.location is not None and Path(err.location.file) == path


__all__: Sequence[str] = ["CachingLoader", "CompactWorkflow"]
