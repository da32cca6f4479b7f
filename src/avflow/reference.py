"""The reference of ``client.yaml`` and workflow files, generated from their pydantic models.

``python -m avflow.reference > docs/reference.md`` writes it; a test fails when the file and the
models disagree, and when a key of a model has no description here (or in its ``Field``).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from avflow import models as m

#: the files' sections: (heading, model), in the order the reference shows them
SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("Client profile (`client.yaml`)", m.ClientProfile),
    ("`holidays:` as a mapping", m.Holidays),
    ("`audit:`", m.AuditSettings),
    ("`notify:`", m.Notify),
    ("Workflow file", m.Workflow),
    ("`on:`", m.On),
    ("`on: schedule:` entries", m.Schedule),
    ("`on: events:` entries", m.EventTrigger),
    ("`steps:` entries", m.Step),
    ("`retry:`", m.Retry),
)

DESCRIPTIONS: dict[str, str] = {
    "ClientProfile.name": "The client's name, as its reports show it.",
    "ClientProfile.timezone": "IANA time zone (`Europe/Rome`): cron times, gating and reports "
    "use the client's wall clock.",
    "ClientProfile.working_hours": "Days (`mon-fri`, `sat`) to hour ranges "
    '(`"09:00-13:00,14:00-18:00"`, `closed`); a day not listed is closed. Default '
    "`mon-fri: 09:00-18:00`.",
    "ClientProfile.holidays": "Public holidays of a country (`IT`), a region (`US-NY`) or a "
    "mapping `{country, subdiv}` (python-holidays).",
    "ClientProfile.closed": "Closed days: a date (`2026-08-14`), a range "
    "(`2026-08-10/2026-08-14`), or a day or range every year (`08-15`, `12-24/01-06`).",
    "ClientProfile.language": "The language of what the client reads (activity report): "
    "`en` or `it`.",
    "ClientProfile.accounts": "Named connections (`mail: {type: imap, ...}`); each `type` comes "
    "from a plugin and checks its own keys (`avflow plugins`).",
    "ClientProfile.roots": "Folders outside the client's own folder that it may use "
    "(docs/security.md).",
    "ClientProfile.audit": "What the audit trail keeps and for how long (docs/audit.md).",
    "ClientProfile.notify": "Where failure notices about this client go (docs/operations.md).",
    "Holidays.country": "ISO country code (`IT`, `US`).",
    "Holidays.subdiv": "Region of the country (`NY`), if its holidays differ.",
    "AuditSettings.personal_data": "`full`, or `masked`: subjects, names and addresses masked in "
    "the trail.",
    "AuditSettings.retention_years": "Years the trail is kept before `avflow audit prune` may "
    "remove a month (at least 2).",
    "AuditSettings.checkpoint_every": "Records between two signed checkpoints.",
    "Notify.email": "The client's own address for failure notices (the email notifier).",
    "Workflow.name": "Shown in lists and reports; default the file's name.",
    "Workflow.description": "A sentence about what it does.",
    "Workflow.enabled": "`false`: validated but never run by the service.",
    "Workflow.on": "When it runs; without it, only `avflow trigger` runs it.",
    "Workflow.steps": "What it does, in order (at least one).",
    "On.schedule": "Cron entries, read in the client's time zone; it fires when any does.",
    "On.events": "Event triggers offered by plugins (`email.new_mail`, `archive.new_file`, ...).",
    "On.when": "`always`, or `working_hours`: only in working hours, never on holidays or "
    "closed days.",
    "On.catch_up": "After downtime: `latest` (one run), `all` (each missed firing), `none`.",
    "On.grace": "Missed firings older than this are never run (`30m`, `1d`).",
    "On.max_catch_up": "With `catch_up: all`, at most this many (the most recent).",
    "Schedule.cron": "Five fields: minute hour day-of-month month day-of-week.",
    "EventTrigger.uses": "The trigger, `plugin.name` (`avflow plugins` lists them).",
    "EventTrigger.with": "The trigger's parameters (its plugin's docs).",
    "Step.id": "Names the step for `steps.<id>.outputs`; default `step1`, `step2`, ...",
    "Step.uses": "The action, `plugin.action` (`avflow plugins` lists them).",
    "Step.with": "The action's parameters; templates (`{{ ... }}`) allowed.",
    "Step.if": "A condition; the step is skipped when it is false.",
    "Step.retry": "Attempts and back-off after a failure; `retry: 3` is short for `{attempts: 3}`.",
    "Step.timeout": "How long one attempt may take (`30s`, `5m`).",
    "Step.continue_on_error": "`true`: a failure of this step does not fail the run.",
    "Step.name": "A label for people (logs, reports).",
    "Retry.attempts": "Attempts in all (1: no retry).",
    "Retry.backoff": "Wait after the first failure (`30s`).",
    "Retry.factor": "Each later wait is multiplied by this.",
    "Retry.max_backoff": "The longest wait (`10m`).",
}

HEADER = """# Reference: client profiles and workflow files

<!-- Generated from avflow's pydantic models by `python -m avflow.reference > docs/reference.md`.
     Do not edit by hand: tests/test_reference.py fails when this file and the models disagree. -->

Every key avflow reads in `client.yaml` and in workflow files. Examples and explanations are in
[workflows.md](workflows.md) and [scheduling.md](scheduling.md); each action's and trigger's
`with:` keys are in its plugin's page, and `avflow schema` prints all of them as a JSON Schema.
"""


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    names = {str: "text", int: "integer", float: "number", bool: "true/false"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None or field.default in (None, PydanticUndefined):
        return ""
    value = field.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def missing_descriptions() -> list[str]:
    """``Model.key`` of every key that has no description."""
    return [
        f"{model.__name__}.{field.alias or name}"
        for _, model in SECTIONS
        for name, field in model.model_fields.items()
        if not field.description and f"{model.__name__}.{field.alias or name}" not in DESCRIPTIONS
    ]


def render() -> str:
    """The whole reference as Markdown."""
    out = [HEADER]
    for heading, model in SECTIONS:
        out += [f"## {heading}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            text = field.description or DESCRIPTIONS.get(f"{model.__name__}.{key}", "")
            out.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} | {text} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
