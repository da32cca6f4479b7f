"""Loading ``workflows/<client>/`` folders into checked, typed objects.

Every mistake is collected as a `ConfigError` with file, line and column, so `avflow validate`
reports all of them at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from avflow import paths, templates
from avflow.api import AccountRef, ClientInfo
from avflow.errors import ConfigError, ConfigErrors, Location
from avflow.models import IDENT, ClientProfile, Workflow
from avflow.pathrules import PathRules
from avflow.plugins import Registry
from avflow.yamlfile import load_yaml, locate, plain

PROFILE = "client.yaml"
REF_RE = re.compile(r"\$\{(?P<kind>secret|env):(?P<name>[^}]*)\}")


@dataclass(slots=True)
class LoadedWorkflow:
    client: str
    id: str
    path: Path
    model: Workflow
    raw: Any  # the ruamel tree, for locating errors found later

    @property
    def name(self) -> str:
        return self.model.name or self.id

    @property
    def ref(self) -> str:
        return f"{self.client}/{self.id}"


@dataclass
class Client:
    id: str
    path: Path
    profile: ClientProfile
    workflows: dict[str, LoadedWorkflow] = field(default_factory=dict)
    paths: paths.Confinement | None = None  # the local paths it may use (avflow.paths)

    def info(self, tz: tzinfo | None = None) -> ClientInfo:
        """The client as plugins see it (`avflow.ClientInfo`), working time included."""
        from zoneinfo import ZoneInfo

        from avflow.models import parse_closed, parse_working_hours
        from avflow.scheduler.gating import holiday_country

        p = self.profile
        return ClientInfo(
            self.id,
            p.name,
            p.timezone,
            tz or ZoneInfo(p.timezone),
            self.path,
            working_hours={d: tuple(r) for d, r in parse_working_hours(p.working_hours).items()},
            holidays=holiday_country(p.holidays),
            closed=tuple(parse_closed(str(c)) for c in p.closed),
            paths=self.paths,
        )


@dataclass
class Project:
    root: Path
    clients: dict[str, Client] = field(default_factory=dict)

    def workflows(self) -> list[LoadedWorkflow]:
        return [wf for c in self.clients.values() for wf in c.workflows.values()]

    def find(self, ref: str) -> LoadedWorkflow:
        from avflow.errors import UsageError

        client, _, wf = ref.partition("/")
        if not wf:
            raise UsageError(f"{ref!r}: expected CLIENT/WORKFLOW, e.g. acme/inbox")
        if client not in self.clients:
            raise UsageError(
                f"unknown client {client!r} (clients: {', '.join(sorted(self.clients)) or 'none'})"
            )
        if wf not in self.clients[client].workflows:
            known = ", ".join(sorted(self.clients[client].workflows)) or "none"
            raise UsageError(f"client {client!r} has no workflow {wf!r} (workflows: {known})")
        return self.clients[client].workflows[wf]


def _message(err: ErrorDetails, known: Sequence[str] = ()) -> str:
    where = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {str(err['loc'][-1])!r}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _in(err: ConfigError, path: Path) -> bool:
    return err.location is not None and Path(err.location.file) == path


def _plain(raw: Any) -> Any:
    """Plain data for the models. A top-level plain dict is plain all through: it comes from the
    libyaml reader or the service's cache, never from ruamel (whose mappings are CommentedMaps)."""
    return raw if type(raw) is dict else plain(raw)


def _model_errors(
    exc: ValidationError,
    path: Path,
    raw: Any,
    prefix: Sequence[str | int],
    model: type[BaseModel] | None = None,
) -> list[ConfigError]:
    out: list[ConfigError] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        loc = tuple(
            p
            for p in err["loc"]
            if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
        )
        if loc in seen:  # a union reports one error per member: keep the first
            continue
        seen.add(loc)
        if templates.is_template(err.get("input")) or (
            isinstance(err.get("input"), str) and REF_RE.fullmatch(err["input"])
        ):
            continue  # checked when the run renders it
        known = _known_keys(model, loc[:-1]) if model else []
        err = {**err, "loc": loc}
        out.append(ConfigError(_message(err, known), locate(path, raw, [*prefix, *loc])))
    return out


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            return []
        f = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if f is None:
            return []
        ann = f.annotation
        candidates = [
            a for a in (ann, *get_args(ann)) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        for a in get_args(ann):
            candidates += [
                b for b in get_args(a) if isinstance(b, type) and issubclass(b, BaseModel)
            ]
        if not candidates:
            return []
        current = candidates[0]
    return [f.alias or n for n, f in getattr(current, "model_fields", {}).items()]


def _account_refs(model: type[BaseModel]) -> dict[str, AccountRef]:
    return {
        name: meta
        for name, f in model.model_fields.items()
        for meta in f.metadata
        if isinstance(meta, AccountRef)
    }


class Loader:
    """Loads a workflows folder against the plugins' registry and the clients' vaults."""

    def __init__(
        self, registry: Registry, secret_names: Any = None, path_rules: Any = None
    ) -> None:
        self.registry = registry
        self.secret_names = secret_names  # callable(client) -> list[str], or None to skip
        self.path_rules: PathRules | None = path_rules  # None: paths are not checked here
        self._positionless: set[Path] = set()  # read without line numbers
        self._exact: set[Path] = set()  # being read again, with line numbers, for its errors

    def read_yaml(self, path: Path) -> Any:
        """Parse one file: with libyaml when it can (ten times quicker, no line numbers), else
        with ruamel. A file that turns out to have an error is read again with ruamel, so every
        error has its line (see `load_client`, `load_workflow`). A hook: the service caches."""
        if path not in self._exact:
            from avflow.fastyaml import Unsupported, load_plain

            try:
                data = load_plain(path.read_bytes().decode("utf-8"))
            except (OSError, UnicodeDecodeError, Unsupported):
                pass  # ruamel reports it, located
            else:
                self._positionless.add(path)
                return data
        self._positionless.discard(path)
        return load_yaml(path)

    def load(self, root: Path) -> tuple[Project, list[ConfigError]]:
        project = Project(root)
        errors: list[ConfigError] = []
        if self.path_rules is not None:
            self.path_rules.forget()  # the clients' roots are read again with their files
        if not root.is_dir():
            return project, [ConfigError("workflows folder does not exist", Location(root))]
        for cdir in sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        ):
            client, errs = self.load_client(cdir)
            errors += errs
            if client is not None:
                project.clients[client.id] = client
        return project, errors

    def load_client(self, cdir: Path) -> tuple[Client | None, list[ConfigError]]:
        client, errors = self._load_client(cdir)
        profile = cdir / PROFILE
        if profile in self._positionless and any(_in(e, profile) for e in errors):
            self._exact.add(profile)  # its errors need their lines
            try:
                client, errors = self._load_client(cdir)
            finally:
                self._exact.discard(profile)
        return client, errors

    def _load_client(self, cdir: Path) -> tuple[Client | None, list[ConfigError]]:
        profile_path = cdir / PROFILE
        bad_id = paths.client_id_problem(cdir.name) or (
            "a client folder may not be a symbolic link" if cdir.is_symlink() else None
        )
        if bad_id is not None:
            return None, [ConfigError(bad_id, Location(cdir))]
        if not profile_path.exists():
            return None, [ConfigError(f"client folder has no {PROFILE}", Location(cdir))]
        errors: list[ConfigError] = []
        try:
            raw = self.read_yaml(profile_path)
            if not isinstance(raw, dict):
                raise ConfigError(
                    "a client profile must be a mapping (name:, timezone:, accounts:)",
                    Location(profile_path, 1, 1),
                )
            profile = ClientProfile.model_validate(_plain(raw))
        except ConfigError as exc:
            return None, [exc]
        except ValidationError as exc:
            return None, _model_errors(exc, profile_path, raw, [], ClientProfile)
        client = Client(cdir.name, cdir, profile)
        errors += self._confine(client, profile_path, raw)
        errors += self._check_accounts(client, profile_path, raw)
        for wpath in sorted([*cdir.glob("*.yaml"), *cdir.glob("*.yml")]):
            if wpath.name in (PROFILE, "client.yml"):
                continue
            wf, errs = self.load_workflow(client, wpath)
            errors += errs
            if wf is not None and not errs:
                client.workflows[wf.id] = wf
        return client, errors

    def _check_refs(
        self, client: Client, value: Any, path: Path, raw: Any, loc: list[str | int]
    ) -> list[ConfigError]:
        errors = []
        if isinstance(value, dict):
            for k, v in value.items():
                errors += self._check_refs(client, v, path, raw, [*loc, k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                errors += self._check_refs(client, v, path, raw, [*loc, i])
        elif isinstance(value, str):
            for m in REF_RE.finditer(value):
                name = m.group("name")
                if m.group("kind") == "secret":
                    if "/" in name or ":" in name:
                        errors.append(
                            ConfigError(
                                f"${{secret:{name}}}: a workflow can use only its own client's secrets",
                                locate(path, raw, loc),
                            )
                        )
                    elif self.secret_names is not None and name not in self.secret_names(client.id):
                        errors.append(
                            ConfigError(
                                f"client {client.id!r} has no secret {name!r} (avflow secrets set {client.id} {name})",
                                locate(path, raw, loc),
                            )
                        )
                elif not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                    errors.append(
                        ConfigError(
                            f"${{env:{name}}}: not an environment variable name",
                            locate(path, raw, loc),
                        )
                    )
        return errors

    def _check_accounts(self, client: Client, path: Path, raw: Any) -> list[ConfigError]:
        errors: list[ConfigError] = []
        for name, acc in client.profile.accounts.items():
            loc: list[str | int] = ["accounts", name]
            atype = self.registry.account_types.get(str(acc["type"]))
            if atype is None:
                known = (
                    ", ".join(sorted(self.registry.account_types))
                    or "none: is the plugin installed?"
                )
                errors.append(
                    ConfigError(
                        f"unknown account type {acc['type']!r} (known: {known})",
                        locate(path, raw, [*loc, "type"]),
                    )
                )
                continue
            settings = {k: v for k, v in acc.items() if k != "type"}
            try:
                atype.settings.model_validate(settings)
            except ValidationError as exc:
                errors += _model_errors(exc, path, raw, loc, atype.settings)
            errors += self._check_paths(client, atype.settings, settings, path, raw, loc)
            errors += self._check_refs(client, settings, path, raw, loc)
        return errors

    def load_workflow(
        self, client: Client, path: Path
    ) -> tuple[LoadedWorkflow | None, list[ConfigError]]:
        wf, errors = self._load_workflow(client, path)
        if errors and path in self._positionless:
            self._exact.add(path)  # its errors need their lines
            try:
                wf, errors = self._load_workflow(client, path)
            finally:
                self._exact.discard(path)
        return wf, errors

    def _load_workflow(
        self, client: Client, path: Path
    ) -> tuple[LoadedWorkflow | None, list[ConfigError]]:
        try:
            raw = self.read_yaml(path)
        except ConfigError as exc:
            return None, [exc]
        if not isinstance(raw, dict):
            return None, [
                ConfigError("a workflow must be a mapping with 'steps:'", Location(path, 1, 1))
            ]
        try:
            model = Workflow.model_validate(_plain(raw))
        except ValidationError as exc:
            return None, _model_errors(exc, path, raw, [], Workflow)
        wf = LoadedWorkflow(client.id, path.stem, path, model, raw)
        if not re.match(IDENT, wf.id):
            return None, [
                ConfigError(
                    "a workflow file name must be letters, digits, _ or - (plus .yaml)",
                    Location(path),
                )
            ]
        return wf, self._check_workflow(client, wf)

    def _check_workflow(self, client: Client, wf: LoadedWorkflow) -> list[ConfigError]:
        errors: list[ConfigError] = []
        path, raw = wf.path, wf.raw
        for i, ev in enumerate(wf.model.on.events):
            trig = self.registry.triggers.get(ev.uses)
            loc: list[str | int] = ["on", "events", i]
            if trig is None:
                errors.append(
                    ConfigError(
                        f"unknown trigger {ev.uses!r}{self._hint(ev.uses, self.registry.triggers)}",
                        locate(path, raw, [*loc, "uses"]),
                    )
                )
                continue
            try:
                trig.params.model_validate(ev.with_)
            except ValidationError as exc:
                errors += _model_errors(exc, path, raw, [*loc, "with"], trig.params)
            errors += self._check_account_refs(
                client, trig.params, ev.with_, path, raw, [*loc, "with"]
            )
            errors += self._check_paths(client, trig.params, ev.with_, path, raw, [*loc, "with"])
        earlier: list[str] = []
        for i, step in enumerate(wf.model.steps):
            loc = ["steps", i]
            assert step.id is not None
            if step.id in earlier:
                errors.append(
                    ConfigError(f"duplicate step id {step.id!r}", locate(path, raw, [*loc, "id"]))
                )
            action = self.registry.actions.get(step.uses)
            if action is None:
                errors.append(
                    ConfigError(
                        f"unknown action {step.uses!r}{self._hint(step.uses, self.registry.actions)}",
                        locate(path, raw, [*loc, "uses"]),
                    )
                )
            else:
                try:
                    action.params.model_validate(step.with_)
                except ValidationError as exc:
                    errors += _model_errors(exc, path, raw, [*loc, "with"], action.params)
                errors += self._check_account_refs(
                    client, action.params, step.with_, path, raw, [*loc, "with"]
                )
                errors += self._check_paths(
                    client, action.params, step.with_, path, raw, [*loc, "with"]
                )
            allowed = templates.ENGINE_VARS | (action.template_vars if action else frozenset())
            if step.if_ is not None:
                cond = step.if_ if templates.is_template(step.if_) else "{{ " + step.if_ + " }}"
                errors += self._check_template(
                    cond, templates.ENGINE_VARS, earlier, path, raw, [*loc, "if"]
                )
            errors += self._check_templates(step.with_, allowed, earlier, path, raw, [*loc, "with"])
            errors += self._check_refs(client, step.with_, path, raw, [*loc, "with"])
            earlier.append(step.id)
        return errors

    def _check_account_refs(
        self,
        client: Client,
        model: type[BaseModel],
        values: dict[str, Any],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        errors = []
        for field_name, ref in _account_refs(model).items():
            f = model.model_fields[field_name]
            key = f.alias or field_name
            name = values.get(key, f.default)
            if not isinstance(name, str) or templates.is_template(name):
                continue
            acc = client.profile.accounts.get(name)
            if acc is None:
                known = ", ".join(sorted(client.profile.accounts)) or "none"
                errors.append(
                    ConfigError(
                        f"client {client.id!r} has no account {name!r} (accounts: {known})",
                        locate(path, raw, [*loc, key]),
                    )
                )
            elif ref.types and acc["type"] not in ref.types:
                errors.append(
                    ConfigError(
                        f"account {name!r} is of type {acc['type']!r}; this needs {' or '.join(ref.types)}",
                        locate(path, raw, [*loc, key]),
                    )
                )
        return errors

    # -- path confinement (avflow.paths) --------------------------------------------------------
    def _confine(self, client: Client, path: Path, raw: Any) -> list[ConfigError]:
        """Give the client its `Confinement`; a granted root it may not have is an error."""
        rules = self.path_rules
        if rules is None:
            return []
        own = client.profile.roots
        client.paths = rules.for_client(client.id, client.path, own)
        return [
            ConfigError(msg, locate(path, raw, ["roots", i]) if i < len(own) else rules.where())
            for i, msg in rules.problems(client.id, own)
        ]

    def _check_paths(
        self,
        client: Client,
        model: type[BaseModel],
        values: dict[str, Any],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        """Every value of a field marked `avflow.LocalPath` must be a path the client may use."""
        errors = []
        for key, value in paths.marked_values(model, values):
            if templates.is_template(value) or REF_RE.search(value):
                continue  # checked at use
            why = paths.problem_of(client.paths, value)
            if why is not None:
                errors.append(ConfigError(why, locate(path, raw, [*loc, key])))
        return errors

    def _check_templates(
        self,
        value: Any,
        allowed: frozenset[str],
        earlier: list[str],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        if isinstance(value, dict):
            return [
                e
                for k, v in value.items()
                for e in self._check_templates(v, allowed, earlier, path, raw, [*loc, k])
            ]
        if isinstance(value, list):
            return [
                e
                for i, v in enumerate(value)
                for e in self._check_templates(v, allowed, earlier, path, raw, [*loc, i])
            ]
        if templates.is_template(value):
            return self._check_template(value, allowed, earlier, path, raw, loc)
        return []

    def _check_template(
        self,
        text: str,
        allowed: frozenset[str],
        earlier: list[str],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        where = locate(path, raw, loc)
        try:
            refs = templates.references(text)
        except templates.TemplateSyntaxError as exc:
            return [ConfigError(f"template syntax error: {exc.message}", where)]
        errors = []
        for var in sorted(refs.variables - allowed):
            errors.append(
                ConfigError(
                    f"template uses unknown variable {var!r} (available: {', '.join(sorted(allowed))})",
                    where,
                )
            )
        for sid in sorted(refs.steps):
            if sid not in earlier:
                errors.append(
                    ConfigError(
                        f"template refers to step {sid!r}, which is not an earlier step of this workflow",
                        where,
                    )
                )
        return errors

    @staticmethod
    def _hint(name: str, known: dict[str, Any]) -> str:
        close = difflib.get_close_matches(name, list(known), n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
        return f" (known: {', '.join(sorted(known)) or 'none'})"


def load_or_raise(loader: Loader, root: Path) -> Project:
    project, errors = loader.load(root)
    if errors:
        raise ConfigErrors(errors)
    return project
