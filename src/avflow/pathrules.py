"""The path rules of one home folder and workflows folder: each client's `Confinement`.

A client may use, besides its own folder, the roots its ``client.yaml`` grants (``roots:``) and
those the service settings grant it (``roots: {<client>: [...]}`` in ``service.yaml``). A root
may not overlap the home folder, another client's folder or another client's root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from avflow.errors import Location
from avflow.paths import _CONTROL, Confinement, _absolute, _overlap, _real


def root_problems(
    client: str, roots: Iterable[str], *, home: Path, others: Iterable[tuple[str, Path]]
) -> list[tuple[int, str]]:
    """(index, message) for each granted root that is relative, or overlaps the home folder,
    another client's folder or another client's root."""
    out = []
    home_real = _real(home)
    banned = [("the avflow home folder", home_real)] + [(lab, _real(p)) for lab, p in others]
    for i, text in enumerate(roots):
        if not text or _CONTROL.search(text):
            out.append((i, f"root {text!r} is empty or holds a control character"))
            continue
        if not os.path.isabs(os.path.expanduser(text)):
            out.append((i, f"root {text!r} must be an absolute path (or start with ~)"))
            continue
        written, real = _absolute(Path(text)), _real(Path(text))
        for label, bad in banned:
            if _overlap(written, bad) or _overlap(real, bad):
                out.append(
                    (i, f"root {text!r} overlaps {label}: client {client!r} may not have it")
                )
                break
    return out


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
    ) -> None:
        self.home = home
        self.settings_path = settings_path or home / "service.yaml"
        self.workflows = workflows
        self.service_roots = service_roots or {}
        self.read_yaml = read_yaml
        self._profiles: dict[str, list[str]] | None = None

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
        """Read the clients' ``roots:`` again on next use (their files may have changed)."""
        self._profiles = None

    def others(self, client: str) -> list[tuple[str, Path]]:
        """What ``client`` may never reach besides the home folder."""
        out: list[tuple[str, Path]] = []
        try:
            entries = sorted(self.workflows.iterdir())
        except OSError:
            entries = []
        for cdir in entries:
            if cdir.name != client and not cdir.name.startswith((".", "_")) and cdir.is_dir():
                out.append((f"client {cdir.name}'s folder", cdir))
        granted = {**self._profile_roots()}
        for other, roots in self.service_roots.items():
            granted[other] = [*granted.get(other, []), *roots]
        for other, roots in granted.items():
            if other != client:
                out += [(f"a root of client {other}", Path(r).expanduser()) for r in roots]
        return out

    def where(self) -> Location:
        """Where the service's roots are written."""
        return Location(self.settings_path)

    def roots(self, client: str, profile_roots: Iterable[str]) -> list[str]:
        return [*profile_roots, *self.service_roots.get(client, [])]

    def problems(self, client: str, profile_roots: list[str]) -> list[tuple[int, str]]:
        """(index into ``roots(client, ...)``, message) for each root the client may not have."""
        roots = self.roots(client, profile_roots)
        return root_problems(client, roots, home=self.home, others=self.others(client))

    def for_client(self, client: str, folder: Path, profile_roots: list[str]) -> Confinement:
        bad = {i for i, _ in self.problems(client, profile_roots)}
        roots = [r for i, r in enumerate(self.roots(client, profile_roots)) if i not in bad]
        return Confinement.build(client, folder, roots, home=self.home, others=self.others(client))


def _roots_of(profile: Path, read_yaml: Callable[[Path], Any] | None) -> list[str]:
    try:
        if read_yaml is not None:
            data = read_yaml(profile)
        else:
            from avflow.yamlfile import load_yaml, plain

            data = plain(load_yaml(profile))
    except Exception:  # reported when that client is loaded
        return []
    roots = data.get("roots") if isinstance(data, dict) else None
    return [str(r) for r in roots if isinstance(r, str)] if isinstance(roots, list) else []
