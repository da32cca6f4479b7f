"""Loading ``workflows/<client>/`` folders into checked, typed objects.

Every file is read by `avflow.yamlfile` (regular files only, a size limit, YAML 1.2, a line and
column for every node) and every mistake is collected as a `ConfigError` with file, line and
column, so `avflow validate` reports all of them at once. Checks are linear in the size of what
they check (step ids and names are looked up in sets, not lists).

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from avflow import paths
from avflow.checks import WorkflowChecks
from avflow.errors import ConfigError, ConfigErrors, Location
from avflow.modelerrors import REF_RE, known_keys, model_errors
from avflow.models import IDENT, ClientProfile, Workflow
from avflow.pathrules import PathRules
from avflow.plugins import Registry
from avflow.project import Client, CompactWorkflow, LoadedWorkflow, Project
from avflow.readstamps import ReadStamps
from avflow.yamlfile import Doc, locate, read_doc

PROFILE = "client.yaml"
SUFFIXES = (".yaml", ".yml")
_IDENT = re.compile(IDENT)
_model_errors = model_errors  # the names other modules import
_known_keys = known_keys
__all__ = [
    "REF_RE",
    "Client",
    "CompactWorkflow",
    "LoadedWorkflow",
    "Loader",
    "Project",
    "load_or_raise",
]


def _first_line(path: Path) -> Location:
    return Location(path, 1, 1)


def _yaml_files(cdir: Path, stamps: ReadStamps | None) -> tuple[list[str], list[str]]:
    """The names of the client folder's ``*.yaml``/``*.yml`` entries, whatever they are
    (read_doc refuses anything that is not a regular file), and of those written
    ``.YAML``/``.Yml`` (never read: an error, not a workflow silently left out); each sorted
    (as their paths would be: one folder's paths sort by name)."""
    try:
        before = os.stat(cdir) if stamps is not None else None
        listed = os.listdir(cdir)
    except OSError:
        return [], []
    if stamps is not None and before is not None:
        stamps.folder(cdir, before, listed)
    names = [n for n in listed if not n.startswith(".")]
    found = sorted(n for n in names if n.endswith(SUFFIXES))
    cased = sorted(n for n in names if n.lower().endswith(SUFFIXES) and not n.endswith(SUFFIXES))
    return found, cased


def _client_dirs(
    root: Path, errors: list[ConfigError], stamps: ReadStamps | None = None
) -> list[Path]:
    """The folders of ``root`` that are clients (not ``.``/``_``), symbolic links among them
    (`Loader.load_client` refuses those); a link that leads nowhere, or to anything but a
    folder, is an error here rather than an entry silently left out."""
    try:
        before = os.stat(root) if stamps is not None else None
        with os.scandir(root) as listing:  # entries know their type: no stat for most
            listed = list(listing)
        if stamps is not None and before is not None:
            stamps.folder(root, before, (e.name for e in listed))
        entries = sorted((e.name, e) for e in listed if not e.name.startswith((".", "_")))
    except OSError as exc:
        errors.append(
            ConfigError(f"cannot read the workflows folder: {exc.strerror}", Location(root))
        )
        return []
    found = []
    for name, entry in entries:  # sorted by name, as their paths would be
        p = root / name
        if entry.is_symlink() and not p.is_dir():
            what = "is not a folder" if p.exists() else "leads nowhere"
            errors.append(
                ConfigError(
                    f"a symbolic link to {os.readlink(p)}, which {what}: a client folder "
                    "must be a real folder (remove the link)",
                    Location(p),
                )
            )
        elif entry.is_symlink() or entry.is_dir(follow_symlinks=False):
            found.append(p)
    return found


class Loader(WorkflowChecks):
    """Loads a workflows folder against the plugins' registry and the clients' vaults."""

    def __init__(
        self,
        registry: Registry,
        secret_names: Any = None,
        path_rules: Any = None,
        compact: bool = False,
    ) -> None:
        self.registry = registry
        self.secret_names = secret_names  # callable(client) -> list[str], or None to skip
        self.path_rules: PathRules | None = path_rules  # None: paths are not checked here
        self.compact = compact  # keep workflows as `CompactWorkflow` (the service: thousands)
        self.stamps: ReadStamps | None = None  # records what `load` reads (avflow.readstamps)

    def read_yaml(self, path: Path) -> Doc:
        """Parse one file (see `avflow.yamlfile.read_doc`): the one way files are read."""
        return read_doc(path, self.stamps)

    def load(self, root: Path) -> tuple[Project, list[ConfigError]]:
        project = Project(root)
        errors: list[ConfigError] = []
        if self.path_rules is not None:
            self.path_rules.forget()  # the clients' roots are read again with their files
        if not root.is_dir():
            what = paths.not_a_folder(root) or "workflows folder does not exist"
            return project, [ConfigError(what, Location(root))]
        folders = _client_dirs(root, errors, self.stamps)
        for cdir in folders:
            client, errs = self.load_client(cdir)
            errors += errs
            if client is not None:
                project.clients[client.id] = client
        if self.path_rules is not None:
            errors += self.path_rules.unknown_clients(p.name for p in folders)
        return project, errors

    def service_roots_errors(self, root: Path) -> list[ConfigError]:
        """``service.yaml``'s ``roots:`` naming a client ``root`` has no folder for (`load`
        reports them too; this is for loading one client)."""
        if self.path_rules is None or not self.path_rules.service_roots:
            return []
        return self.path_rules.unknown_clients(p.name for p in _client_dirs(root, []))

    def load_client(self, cdir: Path) -> tuple[Client | None, list[ConfigError]]:
        profile_path = cdir / PROFILE
        bad_id = paths.client_id_problem(cdir.name) or (
            f"a client folder may not be a symbolic link (it leads to {os.readlink(cdir)}): "
            "move or copy the folder itself here"
            if cdir.is_symlink()
            else None
        )
        if bad_id is not None:
            return None, [ConfigError(bad_id, Location(cdir))]
        files, cased = _yaml_files(cdir, self.stamps)
        if cased:
            return None, [
                ConfigError(
                    f"rename {p.name} to {p.stem}.yaml: the suffix is lower case", Location(p)
                )
                for p in (cdir / n for n in cased)
            ]
        if "client.yml" in files:
            where = _first_line(cdir / "client.yml")
            if PROFILE in files:
                return None, [ConfigError(f"both {PROFILE} and client.yml: keep one", where)]
            return None, [ConfigError(f"rename client.yml to {PROFILE}", where)]
        if PROFILE not in files:
            return None, [ConfigError(f"client folder has no {PROFILE}", Location(cdir))]
        try:
            doc = self.read_yaml(profile_path)
            if not isinstance(doc.data, dict):
                raise ConfigError(
                    "a client profile must be a mapping (name:, timezone:, accounts:)",
                    _first_line(profile_path),
                )
            profile = ClientProfile.model_validate(doc.data)
        except ConfigError as exc:
            return None, [exc]
        except ValidationError as exc:
            return None, model_errors(exc, profile_path, doc, [], ClientProfile)
        client = Client(cdir.name, cdir, profile)
        errors = self._confine(client, profile_path, doc)
        errors += self._check_accounts(client, profile_path, doc)
        errors += self._load_workflows(client, [cdir / n for n in files if n != PROFILE])
        return client, errors

    def _load_workflows(self, client: Client, files: list[Path]) -> list[ConfigError]:
        errors: list[ConfigError] = []
        by_id: dict[str, Path] = {}
        by_name: dict[str, tuple[Path, Doc]] = {}  # name -> the first file using it
        for wpath in files:
            wid = wpath.name.rsplit(".", 1)[0]
            if wid in by_id:  # inbox.yaml and inbox.yml
                errors.append(
                    ConfigError(
                        f"{by_id[wid].name} and {wpath.name} are both workflow {wid!r}: keep one",
                        _first_line(wpath),
                    )
                )
                continue
            by_id[wid] = wpath
            wf, errs = self.load_workflow(client, wpath)
            errors += errs
            if wf is None:
                continue
            doc = wf.raw
            if self.compact and not errs:
                wf = CompactWorkflow(wf, doc.data)
            wf.raw = None  # positions are needed only while checking
            first = by_name.get(wf.name)
            if first is not None:
                was = locate(*first, ["name"])  # located only now: positions are read lazily
                errors.append(
                    ConfigError(
                        f"workflow name {wf.name!r} is already used by {Path(was.file).name} "
                        f"(line {was.line}): each workflow of a client needs its own name",
                        locate(wpath, doc, ["name"]),
                    )
                )
                continue
            by_name[wf.name] = (wpath, doc)
            if not errs:
                client.workflows[wf.id] = wf
        return errors

    def load_workflow(
        self, client: Client, path: Path
    ) -> tuple[LoadedWorkflow | None, list[ConfigError]]:
        """Read and check one workflow file. The result keeps its `Doc` in ``raw`` (for
        locating errors found later); `load_client` drops it once the folder is checked."""
        wid = path.name.rsplit(".", 1)[0]
        if not _IDENT.match(wid):  # refused before anything is read
            return None, [
                ConfigError(
                    "a workflow file name must be letters, digits, _ or - (plus .yaml)",
                    _first_line(path),
                )
            ]
        try:
            doc = self.read_yaml(path)
        except ConfigError as exc:
            return None, [exc]
        if not isinstance(doc.data, dict):
            return None, [
                ConfigError("a workflow must be a mapping with 'steps:'", _first_line(path))
            ]
        try:
            model = Workflow.model_validate(doc.data)
        except ValidationError as exc:
            return None, model_errors(exc, path, doc, [], Workflow)
        wf = LoadedWorkflow(client.id, wid, path, model, doc)
        return wf, self._check_workflow(client, wf)


def load_or_raise(loader: Loader, root: Path) -> Project:
    project, errors = loader.load(root)
    if errors:
        raise ConfigErrors(errors)
    return project
