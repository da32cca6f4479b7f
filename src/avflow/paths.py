"""Path confinement: which folders a client's configuration and steps may name.

Every path a client's profile or one of its steps names (an account's ``path``, a drop folder,
an archive root) is resolved by `Confinement.resolve` (when `avflow validate` and the loader
check a file) and opened by `Confinement.open_dir` when a step uses it. A path is allowed when
it lies

- strictly inside the client's own folder (``workflows/<client>/``; a relative path is read
  from there), or
- inside a root granted to the client: ``roots:`` in its ``client.yaml``, or
  ``roots: {<client>: [...]}`` in the service settings (``$AVFLOW_HOME/service.yaml``);

and it never reaches, nor contains, the home folder (state.db, audit/, keys/, vault/, spool/),
another client's folder or another client's roots. At use, the folder is opened one component
at a time relative to the allowed folder's descriptor with ``O_NOFOLLOW``: a symbolic link on
the way is refused, so what was checked is what is used. See docs/security.md.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from avflow.errors import StepFailed, UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

CLIENT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- client ids ---------------------------------------------------------------------------------
def client_id_problem(client_id: str) -> str | None:
    """Why ``client_id`` is not a client id, or None if it is one.

    The one rule every command and the loader apply: letters, digits, ``_`` and ``-``, starting
    with a letter or a digit, at most 64 characters. So no ``..``, no ``/``, no control
    character or trailing newline, no leading dot (``_``-folders are not clients either).
    """
    if CLIENT_ID_RE.fullmatch(client_id):
        return None
    return (
        f"{client_id!r} is not a client id (letters, digits, _ or -, "
        "starting with a letter or digit)"
    )


def check_client_id(client_id: str) -> str:
    """``client_id`` itself, or a `UsageError` (one line, exit 2) if it breaks the rule."""
    problem = client_id_problem(client_id)
    if problem is not None:
        raise UsageError(problem)
    return client_id


def not_a_folder(workflows: Path) -> str | None:
    """What the workflows folder is when it is there but no folder (a file), or None."""
    if workflows.is_dir() or not workflows.exists():
        return None
    return (
        "this is a file, not a folder: --workflows (or AVFLOW_WORKFLOWS) names the folder "
        "holding the client folders"
    )


def client_folder(workflows: Path, client_id: str) -> Path:
    """The folder of a client named on the command line, checked: a valid id, a real folder
    (a symbolic link is refused) holding a ``client.yaml``. A `UsageError` otherwise."""
    check_client_id(client_id)
    problem = not_a_folder(workflows)
    if problem is not None:
        raise UsageError(f"{workflows}: {problem}")
    cdir = workflows / client_id
    if cdir.is_symlink():
        raise UsageError(f"client folder {cdir} is a symbolic link: avflow refuses linked clients")
    if not (cdir / "client.yaml").is_file():
        raise UsageError(f"unknown client {client_id!r}: no {cdir / 'client.yaml'}")
    return cdir


# -- confinement ---------------------------------------------------------------------------------
class PathRefused(StepFailed):
    """A path a client may not use: outside its folder and roots, or into forbidden ground."""


@dataclass(frozen=True)
class LocalPath:
    """Marks a setting or parameter as a path on this machine, confined to the client.

    Use it as pydantic metadata: ``folder: Annotated[str, avflow.LocalPath()]``. `avflow
    validate` then checks the value with the client's `Confinement` and reports a path that
    leads out at its file, line and column; at use, resolve it with `avflow.confine` or open it
    with `avflow.open_confined`.
    """


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(os.path.expanduser(path))))


def _real(path: Path) -> Path:
    return Path(os.path.realpath(_absolute(path)))


@dataclass(frozen=True)
class Area:
    """An allowed folder, as written (absolute) and as it really is (symbolic links resolved)."""

    written: Path
    real: Path
    inclusive: bool  # whether the folder itself may be named (a root), or only what is inside

    @classmethod
    def of(cls, path: Path, inclusive: bool = True) -> Area:
        written = _absolute(path)  # what `_real` would make first
        return cls(written, Path(os.path.realpath(written)), inclusive)

    def relative(self, path: Path) -> Path | None:
        """``path`` relative to this area, or None if it is not in it."""
        for base in (self.written, self.real):
            if path.is_relative_to(base) and (self.inclusive or path != base):
                return path.relative_to(base)
        return None


class Forbidden:
    """Places some clients may never reach, indexed so a check costs O(depth + log n), not one
    comparison per client: with a thousand clients, validate stays linear."""

    HOME = ""  # the owner of places no client owns (the home folder)

    def __init__(
        self,
        entries: Iterable[tuple[str, str, Path]] = (),
        source: Callable[[], Iterable[tuple[str, str, Path]]] | None = None,
    ) -> None:
        """``entries``: (owner client, label, real path); ``source``: a function giving them,
        called on first use (so a load that checks no path reads no other profile)."""
        self._entries = list(entries)
        self._source = source
        self._at: dict[str, list[tuple[str, str]]] | None = None
        self._sorted: list[str] = []

    def _index(self) -> dict[str, list[tuple[str, str]]]:
        if self._at is None:
            if self._source is not None:
                self._entries += list(self._source())
            at: dict[str, list[tuple[str, str]]] = {}
            for owner, label, path in self._entries:
                at.setdefault(str(path), []).append((owner, label))
            self._sorted = sorted(at)
            self._at = at
        return self._at

    def hit(self, path: Path, client: str) -> str | None:
        """What ``path`` reaches or contains that ``client`` may not have (its label), or None."""
        at = self._index()
        key = str(path)
        while True:  # the path itself and its ancestors (strings: pathlib is slow here)
            label = next((lab for owner, lab in at.get(key, ()) if owner != client), None)
            if label is not None:
                return label
            parent = os.path.dirname(key)
            if parent == key:
                break
            key = parent
        prefix = str(path).rstrip("/") + "/"  # what lies inside the path
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            label = next((lab for own, lab in at[self._sorted[i]] if own != client), None)
            if label is not None:
                return label
            i += 1
        return None


@dataclass(frozen=True)
class Confinement:
    """The folders one client may use; see the module's docstring."""

    client: str
    folder: Area
    roots: tuple[Area, ...] = ()
    forbidden: Forbidden = field(default_factory=Forbidden, compare=False)
    home: Path | None = None  # real path of the home folder (compared by inode at use)

    @classmethod
    def build(
        cls,
        client: str,
        folder: Path,
        roots: Iterable[Path | str] = (),
        *,
        home: Path,
        others: Iterable[tuple[str, Path]] = (),
    ) -> Confinement:
        """``others``: (label, path) of each thing the client may never reach besides the home
        folder: other clients' folders and roots."""
        real_home = _real(home)
        entries = [(Forbidden.HOME, "the avflow home folder", real_home)]
        entries += [(Forbidden.HOME, label, _real(path)) for label, path in others]
        areas = tuple(Area.of(Path(r)) for r in roots)
        return cls(client, Area.of(folder, inclusive=False), areas, Forbidden(entries), real_home)

    def _why_not(self, written: Path, real: Path) -> str | None:
        label = self.forbidden.hit(real, self.client) or self.forbidden.hit(written, self.client)
        if label is not None:
            return f"it leads into {label}"
        for area in (self.folder, *self.roots):
            rel = area.relative(written)
            if rel is None:
                continue
            if real != area.real.joinpath(*rel.parts):
                return "a symbolic link on the way (avflow does not follow links below a folder)"
            return None
        return (
            f"it is outside client {self.client}'s folder and the roots granted to it "
            "(grant a root with 'roots:' in client.yaml; see docs/security.md)"
        )

    def problem(self, value: str | os.PathLike[str]) -> str | None:
        """Why ``value`` may not be used by this client, or None if it may."""
        text = os.fspath(value)
        if not text or _CONTROL.search(text):
            return f"path {text!r} is empty or holds a control character"
        written = _absolute(self._join(text))
        why = self._why_not(written, _real(written))
        return None if why is None else f"path {text!r} is refused: {why}"

    def _join(self, text: str) -> Path:
        p = Path(os.path.expanduser(text))
        return p if p.is_absolute() else self.folder.written / p

    def resolve(self, value: str | os.PathLike[str]) -> Path:
        """The absolute path ``value`` names (relative: from the client's folder), or
        `PathRefused`. Symbolic links are resolved: the path returned is where it really is."""
        why = self.problem(value)
        if why is not None:
            raise PathRefused(why)
        return _real(self._join(os.fspath(value)))

    def open_dir(self, value: str | os.PathLike[str], *, create: bool = False) -> int:
        """A descriptor of the folder ``value`` names, opened without a check-then-use race.

        The allowed folder it lies in is opened, then each component below it relative to the
        previous descriptor with ``O_NOFOLLOW``: a symbolic link anywhere below the allowed
        folder is refused. ``create``: make missing folders (mode 0777 less the umask: the
        client's own data, not avflow's). The caller closes the descriptor."""
        self.resolve(value)
        written = _absolute(self._join(os.fspath(value)))
        for area in (self.folder, *self.roots):
            rel = area.relative(written)
            if rel is not None:
                return self._walk(area.real, rel.parts, create, value)
        raise PathRefused(f"path {os.fspath(value)!r} is refused")  # pragma: no cover

    def _walk(self, base: Path, parts: tuple[str, ...], create: bool, value: Any) -> int:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        banned = {_ident(self.home)} if self.home is not None and self.home.exists() else set()
        if create:  # a granted root still to make (the AV named it: it is made as written)
            os.makedirs(base, exist_ok=True)
        try:
            fd = os.open(base, flags)
        except FileNotFoundError:
            raise PathRefused(f"folder {os.fspath(value)!r} does not exist") from None
        try:
            for part in parts:
                child = _step(fd, part, flags | os.O_NOFOLLOW, create, value)
                os.close(fd)
                fd = child
                if _ident_fd(fd) in banned:
                    raise PathRefused(f"path {os.fspath(value)!r} is refused: forbidden folder")
        except BaseException:
            os.close(fd)
            raise
        return fd


def _step(fd: int, part: str, flags: int, create: bool, value: Any) -> int:
    """Open ``part`` below ``fd``; a symbolic link or a file there is refused."""
    try:
        try:
            return os.open(part, flags, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise PathRefused(f"folder {os.fspath(value)!r} does not exist") from None
            with contextlib.suppress(FileExistsError):  # made meanwhile
                os.mkdir(part, 0o777, dir_fd=fd)
            return os.open(part, flags, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise PathRefused(
                f"path {os.fspath(value)!r} is refused: {part!r} is a symbolic link or not a folder"
            ) from None
        raise


def _ident(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _ident_fd(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode):  # pragma: no cover - O_DIRECTORY ensures it
        raise PathRefused("not a folder")
    return (st.st_dev, st.st_ino)


# -- what plugins call ---------------------------------------------------------------------------
def marked_values(model: type[BaseModel], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) of each field of ``model`` marked `LocalPath` that ``values`` sets."""
    out = []
    for name, f in model.model_fields.items():
        if any(isinstance(m, LocalPath) for m in f.metadata):
            key = f.alias or name
            value = values.get(key)
            if isinstance(value, str):
                out.append((key, value))
    return out


def problem_of(confinement: Confinement | None, value: str) -> str | None:
    """Why a client with ``confinement`` may not use ``value`` (None: it may, or unknown)."""
    return None if confinement is None else confinement.problem(value)


class ClientInfo(Protocol):
    """An `avflow.ClientInfo`, as far as confinement reads it (declared here, so that
    `avflow.api`, which names `Confinement`, and this module do not import each other)."""

    @property
    def id(self) -> str: ...

    @property
    def paths(self) -> Confinement | None: ...


def _confinement(client: ClientInfo) -> Confinement:
    paths = getattr(client, "paths", None)
    if not isinstance(paths, Confinement):
        raise PathRefused(f"client {client.id!r} has no path confinement: no local path is allowed")
    return paths


def confine(client: ClientInfo, value: str | os.PathLike[str]) -> Path:
    """The real absolute path ``value`` names for ``client`` (relative: from the client's
    folder), or `PathRefused` (a `StepFailed`) if the client may not use it."""
    return _confinement(client).resolve(value)


def open_confined(
    client: ClientInfo, value: str | os.PathLike[str], *, create: bool = False
) -> int:
    """A descriptor of the folder ``value`` names, opened relative to the client's allowed
    folder with no symbolic link followed below it (see `Confinement.open_dir`)."""
    return _confinement(client).open_dir(value, create=create)


def confined_folder(
    client: ClientInfo, value: str | os.PathLike[str], *, create: bool = False
) -> Path:
    """Check ``value`` at use, race-free (`open_confined`), and return its real path."""
    fd = open_confined(client, value, create=create)
    os.close(fd)
    return confine(client, value)


__all__ = [
    "Area",
    "Confinement",
    "LocalPath",
    "PathRefused",
    "check_client_id",
    "client_folder",
    "client_id_problem",
    "confine",
    "confined_folder",
    "marked_values",
    "open_confined",
    "problem_of",
]
