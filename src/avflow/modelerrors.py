"""pydantic's validation errors as one-line `ConfigError`\\ s at the file, line and column.

Unknown keys get a "did you mean" suggestion; an unknown key next to the missing one it was
meant to be (``nam:`` where ``name:`` is required) is one error naming both; keys written at the
wrong level of a workflow (a top-level ``schedule:``, a dedented ``with:``) get a hint saying
where they belong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from avflow import templates
from avflow.errors import ConfigError, ValueErrorAt
from avflow.yamlfile import locate, plain

REF_RE = re.compile(r"\$\{(?P<kind>secret|env):(?P<name>[^}]*)\}")

# keys a person writes at the top of a workflow that belong one level down
_BELONGS = {
    **dict.fromkeys(
        ("schedule", "events", "when", "catch_up", "grace", "max_catch_up", "cron"), "on"
    ),
    **dict.fromkeys(("uses", "with", "if", "retry", "timeout", "continue_on_error", "id"), "step"),
}


def _where_it_belongs(key: str, level: tuple[Any, ...], model: type[BaseModel] | None) -> str:
    if model is None or model.__name__ != "Workflow" or level or key not in _BELONGS:
        return ""
    if _BELONGS[key] == "on":
        return (
            f" ('{key}:' belongs under 'on:': write 'on:' on a line of its own and indent "
            f"'{key}:' below it by two spaces)"
        )
    return (
        f" ('{key}:' belongs to a step: indent it under 'steps:', lined up with that step's "
        "'uses:')"
    )


def _message(err: ErrorDetails, known: Sequence[str] = (), hint: str = "") -> str:
    where = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        import difflib  # only for a mistake's hint (here and below)

        close = difflib.get_close_matches(key, known, n=1)
        return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else hint)
    if kind == "missing":
        return f"missing required key {str(err['loc'][-1])!r}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _pair_misspellings(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """An unknown key that is a near miss of a missing one at the same level: one error."""
    missing = {(e["loc"][:-1], str(e["loc"][-1])) for e in errors if e["type"] == "missing"}
    paired: set[tuple[Any, str]] = set()
    out: list[ErrorDetails] = []
    for e in errors:
        if e["type"] != "extra_forbidden":
            continue
        level, key = e["loc"][:-1], str(e["loc"][-1])
        names = [m for lv, m in missing if lv == level and (lv, m) not in paired]
        import difflib

        close = difflib.get_close_matches(key, names, n=1)
        if close:
            paired.add((level, close[0]))
            e["ctx"] = {"pairs_with": close[0]}
    for e in errors:
        if e["type"] == "missing" and (e["loc"][:-1], str(e["loc"][-1])) in paired:
            continue
        out.append(e)
    return out


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic's path without the union members and validators it adds."""
    return tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    )


def _at(data: Any, loc: Sequence[Any]) -> Any:
    for part in loc:
        if not _is_key(data, (part,)):
            return None
        data = data[part]
    return data


def _one_union_member(errors: list[Any], data: Any) -> list[Any]:
    """A union field (``str | Holidays``) reports one error per member, under the member's name
    (``holidays.str``, ``holidays.Holidays.sub``). When one member got past its type check (the
    value is a mapping), the others' "Input should be a valid string" says nothing: it is dropped,
    and the member's name is taken out of the remaining paths, so ``holidays.sub`` points at
    ``sub``. When none did, their type errors become one line at the field."""
    typed: dict[tuple[Any, ...], list[Any]] = {}  # field path -> its members' type errors
    for e in errors:
        loc = e["loc"]
        if loc and e["type"].endswith("_type") and not _is_key(data, loc):
            typed.setdefault(loc[:-1], []).append(e)
    out: list[Any] = []
    for field, wrong in typed.items():
        n = len(field)
        deeper = [
            e
            for e in errors
            if len(e["loc"]) > n + 1
            and e["loc"][:n] == field
            and not _is_key(data, e["loc"][: n + 1])
        ]
        if deeper:
            for e in deeper:
                e["loc"] = (*field, *e["loc"][n + 1 :])
        elif len(wrong) > 1:
            first, *others = wrong
            rest = [o["msg"].removeprefix("Input should be ") for o in others]
            out.append({**first, "loc": field, "msg": ", or ".join([first["msg"], *rest])})
        else:
            continue
        errors = [e for e in errors if e not in wrong]
    return out + errors


def _is_key(data: Any, loc: Sequence[Any]) -> bool:
    """Whether ``loc`` names a key (or index) the user wrote, not a union member's name."""
    parent, part = _at(data, loc[:-1]), loc[-1]
    if isinstance(parent, dict):
        return part in parent
    return isinstance(parent, list) and isinstance(part, int) and 0 <= part < len(parent)


def _below(err: ErrorDetails) -> tuple[Any, ...]:
    """The part of the field's value a validator named (`avflow.errors.ValueErrorAt`)."""
    error = (err.get("ctx") or {}).get("error")
    return error.at if isinstance(error, ValueErrorAt) else ()


def model_errors(
    exc: ValidationError,
    path: Path,
    raw: Any,
    prefix: Sequence[str | int],
    model: type[BaseModel] | None = None,
) -> list[ConfigError]:
    """One `ConfigError` per distinct problem of ``exc``, located in ``raw`` (a `Doc`)."""
    out: list[ConfigError] = []
    seen: set[tuple[Any, ...]] = set()
    details = [{**err, "loc": _clean_loc(err["loc"]) + _below(err)} for err in exc.errors()]
    details = _one_union_member(details, _at(plain(raw), prefix))
    for err in _pair_misspellings(details):  # type: ignore[arg-type]
        loc = err["loc"]
        if loc in seen:  # a union reports one error per member: keep the first
            continue
        seen.add(loc)
        value = err.get("input")
        if templates.is_template(value) or (isinstance(value, str) and REF_RE.fullmatch(value)):
            continue  # checked when the run renders it
        pairs = (
            (err.get("ctx") or {}).get("pairs_with") if err["type"] == "extra_forbidden" else None
        )
        where = locate(path, raw, [*prefix, *loc])
        if pairs:
            out.append(
                ConfigError(
                    f"unknown key {str(loc[-1])!r} (did you mean {pairs!r}?): {pairs!r} is required "
                    "and missing",
                    where,
                )
            )
            continue
        known = known_keys(model, loc[:-1]) if model else []
        hint = _where_it_belongs(str(loc[-1]), (*prefix, *loc[:-1]), model) if loc else ""
        out.append(ConfigError(_message(err, known, hint), where))
    return out


def known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the model nested at ``loc`` accepts (for "did you mean")."""
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


__all__ = ["REF_RE", "known_keys", "model_errors"]
