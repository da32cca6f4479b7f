"""JSON Schemas of workflow files and client profiles, with each plugin's parameters inlined."""

from __future__ import annotations

from typing import Any

from avflow.models import ClientProfile, Workflow
from avflow.plugins import Registry


def _merge(top: dict[str, Any], model: Any, prefix: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(
        by_alias=True, ref_template="#/$defs/" + prefix + "{model}"
    )
    for name, sub in schema.pop("$defs", {}).items():
        top.setdefault("$defs", {})[prefix + name] = sub
    return schema


def workflow_schema(registry: Registry) -> dict[str, Any]:
    top: dict[str, Any] = Workflow.model_json_schema(by_alias=True)
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["title"] = "avflow workflow"
    step = top["$defs"]["Step"]
    step["properties"]["uses"]["enum"] = sorted(registry.actions)
    step["allOf"] = []
    for name, action in sorted(registry.actions.items()):
        params = _merge(top, action.params_model, name.replace(".", "_") + "__")
        step["allOf"].append(
            {
                "if": {"properties": {"uses": {"const": name}}, "required": ["uses"]},
                "then": {"properties": {"with": params}},
            }
        )
        if action.description:
            params.setdefault("description", action.description)
    event = top["$defs"]["EventTrigger"]
    event["properties"]["uses"]["enum"] = sorted(registry.triggers)
    event["allOf"] = [
        {
            "if": {"properties": {"uses": {"const": name}}, "required": ["uses"]},
            "then": {
                "properties": {
                    "with": _merge(top, trig.params_model, name.replace(".", "_") + "__")
                }
            },
        }
        for name, trig in sorted(registry.triggers.items())
    ]
    return top


def client_schema(registry: Registry) -> dict[str, Any]:
    top: dict[str, Any] = ClientProfile.model_json_schema(by_alias=True)
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["title"] = "avflow client profile"
    variants = []
    for name, atype in sorted(registry.account_types.items()):
        settings = _merge(top, atype.settings_model, "account_" + name + "__")
        settings.setdefault("properties", {})["type"] = {"const": name}
        settings.setdefault("required", []).append("type")
        settings["additionalProperties"] = False
        variants.append(settings)
    top["properties"]["accounts"]["additionalProperties"] = (
        {"oneOf": variants} if variants else {"type": "object"}
    )
    return top
