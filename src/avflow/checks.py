"""The checks a loaded profile or workflow goes through beyond its model: accounts, secrets,
triggers, actions and their parameters, templates. A mixin of `avflow.loader.Loader`.

Every check is linear in what it checks: earlier step ids are a set, and a template's
references are parsed once per distinct expression (a thousand workflows that differ only in
their literal text parse one template).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ValidationError

from avflow import paths, templates
from avflow.api import AccountRef
from avflow.errors import ConfigError
from avflow.modelerrors import REF_RE, model_errors
from avflow.pathrules import PathRules
from avflow.plugins import Registry
from avflow.yamlfile import locate

if TYPE_CHECKING:
    from avflow.project import Client, LoadedWorkflow

_EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> templates.Refs:
    return templates.references(text)


# An expression that is a name and its attributes (``client.name``, ``steps.fetch.outputs``)
_DOTTED = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,31})\s*")
# Words Jinja2 may read as more than a name (constants, operators, tests), and the sandbox's
# globals (`templates.GLOBALS`): an expression holding one is left to Jinja2
# fmt: off
_NOT_PLAIN = frozenset({
    "true", "false", "True", "False", "none", "None", "and", "or", "not", "in", "is", "if",
    "else", "elif", "for", "recursive", "with", "without", "context", "import", "from", "as",
    "set", "block", "call", "filter", "macro", "raw", "endraw",
}) | templates.GLOBALS
# fmt: on


@functools.lru_cache(maxsize=4096)
def _plain(exprs: tuple[str, ...]) -> templates.Refs | None:
    """What Jinja2 finds in expressions that are each a dotted name (its first name read, the
    attribute after it, ``steps.<id>``), found without Jinja2; None if one is anything else."""
    names, steps = set(), set()
    attrs: set[tuple[str, str]] = set()
    for expr in exprs:
        m = _DOTTED.fullmatch(expr)
        if m is None:
            return None
        parts = m.group(1).split(".")
        if not _NOT_PLAIN.isdisjoint(parts):
            return None
        names.add(parts[0])
        attrs.update((".".join(parts[:i]), parts[i]) for i in range(1, len(parts)))
        if len(parts) > 1 and parts[0] == "steps":
            steps.add(parts[1])
    return templates.Refs(frozenset(names), frozenset(steps), frozenset(attrs))


def references(text: str) -> templates.Refs:
    """``templates.references(text)``, parsed once per distinct set of expressions; expressions
    that are all dotted names are read without Jinja2 (the same result; tests/test_templates.py)."""
    if "{%" not in text and "{#" not in text:
        exprs = _EXPR.findall(text)
        literal = _EXPR.sub("", text)
        if exprs and "{{" not in literal:
            plain = _plain(tuple(exprs))
            if plain is not None:
                return plain
            try:
                return _parsed("".join("{{" + e + "}}" for e in exprs))
            except templates.TemplateSyntaxError:
                pass  # the expressions were not cut where Jinja cuts them: parse it whole
    return _parsed(text)


@functools.cache
def _account_refs(model: type[BaseModel]) -> dict[str, AccountRef]:
    """The fields naming accounts: ``Annotated[str, AccountRef(...)]``, or a list of them."""
    refs = {}
    for name, f in model.model_fields.items():
        items = [m for a in get_args(f.annotation) for m in getattr(a, "__metadata__", ())]
        for meta in [*f.metadata, *items]:
            if isinstance(meta, AccountRef):
                refs[name] = meta
    return refs


class WorkflowChecks:
    """Checks of accounts, triggers, steps and templates, for `Loader`."""

    registry: Registry
    secret_names: Any
    path_rules: PathRules | None
    _template_attrs: Mapping[str, frozenset[str]] = {}  # the current step's action's

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
                from avflow.pluginhints import missing_account_type

                why = missing_account_type(
                    str(acc["type"]), self.registry, self.registry.account_types
                )
                errors.append(
                    ConfigError(
                        f"unknown account type {acc['type']!r}{why}",
                        locate(path, raw, [*loc, "type"]),
                    )
                )
                continue
            settings = {k: v for k, v in acc.items() if k != "type"}
            model = atype.settings_model
            try:
                model.model_validate(settings)
            except ValidationError as exc:
                errors += model_errors(exc, path, raw, loc, model)
            errors += self._check_paths(client, model, settings, path, raw, loc)
            errors += self._check_refs(client, settings, path, raw, loc)
        return errors

    def _check_workflow(self, client: Client, wf: LoadedWorkflow) -> list[ConfigError]:
        path, raw = wf.path, wf.raw
        errors = self._check_events(client, wf)
        earlier: set[str] = set()
        for i, step in enumerate(wf.model.steps):
            loc: list[str | int] = ["steps", i]
            assert step.id is not None
            if step.id in earlier:
                errors.append(
                    ConfigError(f"duplicate step id {step.id!r}", locate(path, raw, [*loc, "id"]))
                )
            action = self.registry.actions.get(step.uses)
            if action is None:
                errors.append(
                    ConfigError(
                        f"unknown action {step.uses!r}{self._missing(step.uses, self.registry.actions)}",
                        locate(path, raw, [*loc, "uses"]),
                    )
                )
            else:
                errors += self._check_params(
                    client, action.params_model, step.with_, wf, [*loc, "with"]
                )
            allowed = templates.ENGINE_VARS | (action.template_vars if action else frozenset())
            self._template_attrs = action.template_attrs if action else {}
            if step.if_ is not None:
                cond = step.if_ if templates.is_template(step.if_) else "{{ " + step.if_ + " }}"
                errors += self._check_template(
                    cond, templates.ENGINE_VARS, earlier, path, raw, [*loc, "if"]
                )
            errors += self._check_templates(step.with_, allowed, earlier, path, raw, [*loc, "with"])
            errors += self._check_refs(client, step.with_, path, raw, [*loc, "with"])
            earlier.add(step.id)
        return errors

    def _check_events(self, client: Client, wf: LoadedWorkflow) -> list[ConfigError]:
        errors: list[ConfigError] = []
        for i, ev in enumerate(wf.model.on.events):
            trig = self.registry.triggers.get(ev.uses)
            loc: list[str | int] = ["on", "events", i]
            if trig is None:
                errors.append(
                    ConfigError(
                        f"unknown trigger {ev.uses!r}{self._missing(ev.uses, self.registry.triggers, 'trigger')}",
                        locate(wf.path, wf.raw, [*loc, "uses"]),
                    )
                )
                continue
            errors += self._check_params(client, trig.params_model, ev.with_, wf, [*loc, "with"])
        return errors

    def _check_params(
        self, client: Client, model: Any, values: Any, wf: LoadedWorkflow, loc: list[str | int]
    ) -> list[ConfigError]:
        """A step's or trigger's ``with:`` against its pydantic model, accounts and paths."""
        path, raw = wf.path, wf.raw
        errors: list[ConfigError] = []
        try:
            model.model_validate(values)
        except ValidationError as exc:
            errors += model_errors(exc, path, raw, loc, model)
        errors += self._check_account_refs(client, model, values, path, raw, loc)
        errors += self._check_paths(client, model, values, path, raw, loc)
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
            value = values.get(key, f.default)
            named = [(value, [*loc, key])] if isinstance(value, str) else []
            if isinstance(value, list):  # a list of accounts: each item at its own line
                named = [(v, [*loc, key, i]) for i, v in enumerate(value) if isinstance(v, str)]
            for name, where in named:
                if templates.is_template(name):
                    continue
                acc = client.profile.accounts.get(name)
                if acc is None:
                    known = ", ".join(sorted(client.profile.accounts)) or "none"
                    errors.append(
                        ConfigError(
                            f"client {client.id!r} has no account {name!r} (accounts: {known})",
                            locate(path, raw, where),
                        )
                    )
                elif ref.types and acc["type"] not in ref.types:
                    errors.append(
                        ConfigError(
                            f"account {name!r} is of type {acc['type']!r}; this needs {' or '.join(ref.types)}",
                            locate(path, raw, where),
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
        client.paths, problems = rules.confine(client.id, client.path, own)
        return [
            ConfigError(
                msg,
                locate(path, raw, ["roots", i])
                if i < len(own)
                else rules.where(client.id, i - len(own)),
            )
            for i, msg in problems
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
        earlier: set[str],
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
        earlier: set[str],
        path: Path,
        raw: Any,
        loc: list[str | int],
    ) -> list[ConfigError]:
        try:
            refs = references(text)
        except templates.TemplateSyntaxError as exc:
            return [ConfigError(f"template syntax error: {exc.message}", locate(path, raw, loc))]
        messages = [
            f"template uses unknown variable {var!r} (available: {', '.join(sorted(allowed))})"
            for var in sorted(refs.variables - allowed)
        ]
        for var, attr in sorted(refs.attrs):
            # ``var`` is a variable or a dotted path (``file.date``): its first name must be one
            known = self._template_attrs.get(var) if var.split(".")[0] in allowed else None
            if known is not None and attr not in known:
                import difflib  # only for a mistake's hint

                close = difflib.get_close_matches(attr, sorted(known), n=1)
                hint = (
                    f"did you mean {var}.{close[0]}?"
                    if close
                    else f"known: {', '.join(sorted(known))}"
                )
                messages.append(f"{var!r} has no attribute {attr!r} ({hint})")
        messages += [
            f"template refers to step {sid!r}, which is not an earlier step of this workflow"
            for sid in sorted(refs.steps)
            if sid not in earlier
        ]
        if not messages:
            return []  # located only when wrong: a file's positions are read for its errors
        where = locate(path, raw, loc)
        return [ConfigError(message, where) for message in messages]

    def _missing(self, name: str, known: dict[str, Any], kind: str = "action") -> str:
        """The hint for an unknown action or trigger: its plugin is disabled, blocked, not
        loaded or not installed, or a close name (`avflow.pluginhints`)."""
        from avflow.pluginhints import missing

        return missing(name, kind, self.registry, known)
