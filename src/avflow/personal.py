"""Personal data, as plugins declare it: which output fields hold subjects, names, addresses.

A plugin marks such fields in the pydantic model of its action's outputs (``Action.outputs``)::

    class Message(BaseModel):
        subject: Annotated[str, avflow.Personal]
        sender: str = Field(json_schema_extra={"personal": True})

For a client whose profile says ``audit.personal_data: masked``, the audit trail masks the values
under those field names wherever they appear in a record's details (docs/audit.md). The core
itself names no such field.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


class Personal:
    """Field marker: ``Annotated[str, avflow.Personal]`` (the class or an instance)."""


def _is_personal(info: Any) -> bool:
    if any(m is Personal or isinstance(m, Personal) for m in info.metadata):
        return True
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("personal") is True


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    """The pydantic models inside a type: ``list[Message]``, ``Message | None``, ``dict[str, M]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _models_in(typing.get_args(annotation)[0])
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _models_in(arg)


def personal_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names (and aliases) of the fields marked `Personal` in ``model`` and the models it
    holds, at any depth."""
    found: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            if _is_personal(info):
                found.add(name)
                if info.alias:
                    found.add(info.alias)
            todo += _models_in(info.annotation)
    return frozenset(found)
