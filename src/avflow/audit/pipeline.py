"""structlog processors that turn a run event into the bytes of an audit record.

`AuditTrail.record` hands its arguments to a structlog logger wrapped around the trail's sink;
these processors run in order on the event dict:

1. `redact_secrets`: every secret value avflow resolved, in every field and key, in any of its
   escaped or encoded forms, is replaced by ``[REDACTED]``;
2. `drop_bodies`: message bodies never reach the trail, whatever a plugin passes;
3. `PersonalDataMasker`: when the client's profile says ``audit.personal_data: masked``,
   addresses, quoted text and the fields plugins mark `avflow.Personal` are masked
   (see docs/audit.md);
4. `render_body`: the canonical bytes of the record's middle part (`format.encode_body`).

The sink then adds sequence number, time and chain hashes under the client's lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, MutableMapping
from typing import Any

from avflow import redact
from avflow.audit.format import encode_body

EventDict = MutableMapping[str, Any]

BODY_KEYS = frozenset(
    {"body", "html", "raw", "mime", "body_text", "body_html", "text_body", "html_body"}
)
BODY_OMITTED = "[body not recorded]"
ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Text a plugin quoted in a description: "…", “…”, «…», and '…' as Python's repr() writes it
# (an apostrophe inside a word, as in "client's", opens nothing).
QUOTED = re.compile(r'"([^"\n]*)"|“([^”\n]*)”|«([^»\n]*)»|(?<!\w)\'([^\'\n]*)\'(?!\w)')


def mask_address(match: re.Match[str] | str) -> str:
    """``mario.rossi@acme.example`` -> ``m***@a***.example``."""
    text = match if isinstance(match, str) else match.group(0)
    local, _, domain = text.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def mask_text(text: str) -> str:
    """A subject or title: its first character, then ``***``."""
    if ADDRESS.fullmatch(text.strip()):
        return mask_address(text.strip())
    return f"{text[:1]}***" if text else text


# A display name before an address in angle brackets: "Mario Rossi <mario@rossi.example>".
NAMED = re.compile(r"((?:[^\s<>]+[ \t]+){1,4})<([^<>\s]+@[^<>\s]+)>")


def _named(m: re.Match[str]) -> str:
    words = m.group(1).split()
    keep = len(words)
    while keep > 0 and words[keep - 1][:1].isupper():  # the capitalised words just before <…>
        keep -= 1
    masked = [*words[:keep], *(f"{w[:1]}***" for w in words[keep:])]
    return " ".join(masked) + f" <{mask_address(m.group(2))}>"


def mask_description(text: str) -> str:
    def quoted(m: re.Match[str]) -> str:
        whole = m.group(0)
        return whole[0] + mask_text(whole[1:-1]) + whole[-1]

    return ADDRESS.sub(mask_address, NAMED.sub(_named, QUOTED.sub(quoted, text)))


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


def mask_details(details: Any, personal: Collection[str]) -> Any:
    """Mask the values under ``personal`` keys (lower-case field names plugins mark
    `avflow.Personal`), and addresses and quoted text anywhere."""
    if isinstance(details, dict):
        return {
            k: (_mask_value(v) if k.lower() in personal else mask_details(v, personal))
            for k, v in details.items()
        }
    if isinstance(details, list):
        return [mask_details(v, personal) for v in details]
    if isinstance(details, str):
        return mask_description(details)
    return details


def redact_secrets(_logger: Any, _name: str, ed: EventDict) -> EventDict:
    """Every field, keys of mappings included (an effect key, a detail's name can hold one)."""
    ed["details"] = ed.get("details") or {}
    for key in [k for k in ed if k != "client"]:
        ed[key] = redact.redact(ed[key])
    return ed


def _without_bodies(details: Any) -> Any:
    if isinstance(details, dict):
        return {
            k: (BODY_OMITTED if k.lower() in BODY_KEYS else _without_bodies(v))
            for k, v in details.items()
        }
    if isinstance(details, list):
        return [_without_bodies(v) for v in details]
    return details


def drop_bodies(_logger: Any, _name: str, ed: EventDict) -> EventDict:
    ed["details"] = _without_bodies(ed["details"])
    return ed


class PersonalDataMasker:
    """Masks addresses and subjects for clients whose profile asks for it."""

    def __init__(
        self, masked: Callable[[str], bool], personal: Callable[[], Collection[str]]
    ) -> None:
        self.masked = masked
        self.personal = personal  # the field names plugins declared personal

    def __call__(self, _logger: Any, _name: str, ed: EventDict) -> EventDict:
        if self.masked(ed["client"]):
            if isinstance(ed.get("description"), str):
                ed["description"] = mask_description(ed["description"])
            ed["details"] = mask_details(ed["details"], self.personal())
            if isinstance(ed.get("effect"), str):  # keys like "reply:mario@acme.example"
                ed["effect"] = ADDRESS.sub(mask_address, ed["effect"])
        return ed


def render_body(
    _logger: Any, _name: str, ed: EventDict
) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """Last processor: ``(client, body bytes, event dict)`` for the sink's ``append``."""
    body = encode_body(
        ed["client"],
        workflow=ed.get("workflow"),
        run=ed.get("run"),
        step=ed.get("step"),
        event=ed["event"],
        effect=ed.get("effect"),
        description=ed.get("description"),
        details=ed["details"],
    )
    return (ed["client"], body, ed), {}
