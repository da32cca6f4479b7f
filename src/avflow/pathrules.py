"""The path rules of one home folder and workflows folder: each client's `Confinement`.

A client may use, besides its own folder, the roots its ``client.yaml`` grants (``roots:``) and
those the service settings grant it (``roots: {<client>: [...]}`` in ``service.yaml``). A root
may not overlap the home folder, another client's folder or another client's root.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from avflow.errors import ConfigError, Location
from avflow.paths import _CONTROL, Area, Confinement, Forbidden, _absolute, _real


def root_problem(client: str, text: str, index: Forbidden) -> str | None:
    """Why ``client`` may not be granted root ``text``: relative, or overlapping the home
    folder, another client's folder or another client's root (None: it may)."""
    if not text or _CONTROL.search(text):
        return f"root {text!r} is empty or holds a control character"
    if not os.path.isabs(os.path.expanduser(text)):
        return f"root {text!r} must be an absolute path (or start with ~)"
    written, real = _absolute(Path(text)), _real(Path(text))
    label = index.hit(real, client) or index.hit(written, client)
    if label is not None:
        return f"root {text!r} overlaps {label}: client {client} may not have it"
    return None


class PathRules:
    """Builds each client's `Confinement` from the home folder, the workflows folder, the roots
    the service settings grant (``roots: {client: [...]}``) and every client's own ``roots:``."""

    def __init__(
        self,
        home: Path,
        workflows: Path,
        service_roots: dict[str, list[str]] | None = None,
        read_yaml: Callable[[Path], Any] | None = None,
        settings_path: Path | None = None,
        keys: Iterable[tuple[str, str]] = (),
    ) -> None:
        """``keys``: (label, path) of avflow's own key files kept outside the home folder (the
        dashboard's TLS key); the audit signing key ``AVFLOW_AUDIT_KEY`` names is always one."""
        self.home = home
        self.keys = [*keys, *_audit_key()]
        self.settings_path = settings_path or home / "service.yaml"
        self.workflows = workflows
        self.service_roots = service_roots or {}
        self.read_yaml = read_yaml
        self._profiles: dict[str, list[str]] | None = None
        self._index: Forbidden | None = None
        self._home_real = _real(home)

    def _profile_roots(self) -> dict[str, list[str]]:
        """Every client folder's ``roots:`` (read once; a broken profile counts as none)."""
        if self._profiles is None:
            found: dict[str, list[str]] = {}
            try:
                entries = sorted(self.workflows.iterdir())
            except OSError:
                entries = []
            for cdir in entries:
                profile = cdir / "client.yaml"
                if cdir.name.startswith((".", "_")) or not profile.is_file():
                    continue
                found[cdir.name] = _roots_of(profile, self.read_yaml)
            self._profiles = found
        return self._profiles

    def forget(self) -> None:
        """Read the clients' folders and ``roots:`` again on next use (they may have changed)."""
        self._profiles = None
        self._index = None

    def index(self) -> Forbidden:
        """Every place some client may not reach, built on first use (shared by all clients)."""
        if self._index is None:
            self._index = Forbidden(source=self._entries)
        return self._index

    def _entries(self) -> list[tuple[str, str, Path]]:
        out = [(Forbidden.HOME, "the avflow home folder", self._home_real)]
        for label, key in self.keys:  # outside the home folder: no client may reach them either
            out.append((Forbidden.HOME, label, _real(Path(key).expanduser())))
        try:
            entries = sorted(self.workflows.iterdir())
        except OSError:
            entries = []
        for cdir in entries:
            if not cdir.name.startswith((".", "_")) and cdir.is_dir():
                out.append((cdir.name, f"client {cdir.name}'s folder", _real(cdir)))
        granted = {**self._profile_roots()}
        for other, roots in self.service_roots.items():
            granted[other] = [*granted.get(other, []), *roots]
        for other, roots in granted.items():
            for r in roots:
                if r and not _CONTROL.search(r) and os.path.isabs(os.path.expanduser(r)):
                    label = f"a root of client {other}"
                    out += [(other, label, _absolute(Path(r))), (other, label, _real(Path(r)))]
        return out

    def where(self, client: str | None = None, index: int = 0) -> Location:
        """Where the service's roots are written: ``client``'s ``index``-th root's own line in
        ``service.yaml`` when that file can be read, else the file."""
        if client is not None:
            try:
                from avflow.yamlfile import locate, read_doc

                doc = read_doc(self.settings_path)
                return locate(self.settings_path, doc, ["roots", client, index])
            except Exception:  # the file itself is checked (and its errors located) on load
                pass
        return Location(self.settings_path)

    def unknown_clients(self, clients: Iterable[str]) -> list[ConfigError]:
        """An error at each key of ``service.yaml``'s ``roots:`` that names none of ``clients``
        (the workflows folder's client folders): a typo would leave the real client without
        its roots, in silence."""
        known = sorted(set(clients))
        unknown = [name for name in self.service_roots if name not in known]
        if not unknown:
            return []
        import difflib

        from avflow.yamlfile import locate, read_doc

        try:
            doc: Any = read_doc(self.settings_path)
        except Exception:  # the file itself is checked (and its errors located) on load
            doc = None
        errors = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                ConfigError(
                    f"roots: no client {name!r} in {self.workflows}{hint}: "
                    "the folders listed under it are granted to no one",
                    locate(self.settings_path, doc, ["roots", name]),
                )
            )
        return errors

    def roots(self, client: str, profile_roots: Iterable[str]) -> list[str]:
        return [*profile_roots, *self.service_roots.get(client, [])]

    def problems(self, client: str, profile_roots: list[str]) -> list[tuple[int, str]]:
        """(index into ``roots(client, ...)``, message) for each root the client may not have."""
        out = []
        for i, text in enumerate(self.roots(client, profile_roots)):
            why = root_problem(client, text, self.index())
            if why is not None:
                out.append((i, why))
        return out

    def for_client(self, client: str, folder: Path, profile_roots: list[str]) -> Confinement:
        return self.confine(client, folder, profile_roots)[0]

    def confine(
        self, client: str, folder: Path, profile_roots: list[str]
    ) -> tuple[Confinement, list[tuple[int, str]]]:
        """The client's `Confinement` (its valid roots only), and the problems of the others."""
        problems = self.problems(client, profile_roots)
        bad = {i for i, _ in problems}
        roots = [r for i, r in enumerate(self.roots(client, profile_roots)) if i not in bad]
        areas = tuple(Area.of(Path(r)) for r in roots)
        folder_area = Area.of(folder, inclusive=False)
        return Confinement(client, folder_area, areas, self.index(), self._home_real), problems


def _roots_of(profile: Path, read_yaml: Callable[[Path], Any] | None) -> list[str]:
    try:
        from avflow.yamlfile import plain, read_doc

        data = plain((read_yaml or read_doc)(profile))  # a `Doc`: its plain data
    except Exception:  # reported when that client is loaded
        return []
    roots = data.get("roots") if isinstance(data, dict) else None
    return [str(r) for r in roots if isinstance(r, str)] if isinstance(roots, list) else []


def _audit_key() -> list[tuple[str, str]]:
    path = os.environ.get("AVFLOW_AUDIT_KEY")  # avflow.audit.keys.KEY_ENV (not imported: slow)
    return [("avflow's audit signing key", path)] if path else []


def own_keys(tls_key: str | None, tls_cert: str | None = None) -> list[tuple[str, str]]:
    """The files of avflow's own settings that no client may reach (see `PathRules`): the
    dashboard's TLS key, and its certificate (a client's step could replace it)."""
    files = [("the dashboard's TLS key", tls_key), ("the dashboard's TLS certificate", tls_cert)]
    return [(label, path) for label, path in files if path]
