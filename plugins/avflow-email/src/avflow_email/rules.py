"""The parameters of ``email.triage``: ordered rules, their conditions and their actions.

Everything is checked when the workflow is loaded (`avflow validate`): unknown keys, bad regular
expressions, sizes and durations, an action item with no or several verbs.
"""

import re
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import avflow


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def parse_size(value: Any) -> int:
    """Bytes from ``1200``, ``"10KB"``, ``"2 MB"``, ``"1G"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*", str(value), re.I)
    if not m:
        raise ValueError(f"{value!r} is not a size like 500KB or 2MB")
    return int(
        float(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    )


def parse_age(value: Any) -> float:
    """Seconds from ``"90m"``, ``"12h"``, ``"7d"``, ``"2w"`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*", str(value))
    if not m:
        raise ValueError(f"{value!r} is not an age like 12h, 7d or 2w")
    return (
        float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2) or "s"]
    )


class Text(_Strict):
    """A text test: ``contains``, ``equals`` or ``regex`` (each a string or a list: any of them).

    Case-insensitive unless ``case_sensitive: true``. A bare string means ``contains``.
    """

    contains: list[str] | None = None
    equals: list[str] | None = None
    regex: list[str] | None = None
    case_sensitive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str | list):
            return {"contains": v}
        return v

    def needles(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``contains`` and ``equals``, case-folded unless case-sensitive."""
        fold = (lambda x: x) if self.case_sensitive else str.casefold
        return tuple(fold(n) for n in self.contains or ()), tuple(
            fold(n) for n in self.equals or ()
        )

    _lists = field_validator("contains", "equals", "regex", mode="before")(_as_list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> Self:
        if not (self.contains or self.equals or self.regex):
            raise ValueError("a text test needs contains, equals or regex")
        return self


class Header(Text):
    """A header test: ``name`` plus ``exists: true|false`` or a text test on its value."""

    name: str
    exists: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return v

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.exists is None and not (self.contains or self.equals or self.regex):
            raise ValueError("a header test needs exists, contains, equals or regex")
        return self


class AttachmentTest(_Strict):
    """At least one attachment whose file name and/or MIME type match."""

    name: Text | None = None
    type: Text | None = Field(default=None, description="MIME type, e.g. application/pdf")


class Size(_Strict):
    larger_than: int | None = None
    smaller_than: int | None = None

    _sizes = field_validator("larger_than", "smaller_than", mode="before")(
        lambda v: None if v is None else parse_size(v)
    )


class Age(_Strict):
    older_than: float | None = None
    newer_than: float | None = None

    _ages = field_validator("older_than", "newer_than", mode="before")(
        lambda v: None if v is None else parse_age(v)
    )


class Condition(_Strict):
    """What a rule matches. Several keys in one mapping must all hold."""

    from_: Text | None = Field(default=None, alias="from")
    to: Text | None = None
    cc: Text | None = None
    subject: Text | None = None
    body: Text | None = None
    header: list[Header] | None = None
    has_attachment: bool | None = None
    attachment: AttachmentTest | None = None
    size: Size | None = None
    age: Age | None = None
    mailing_list: bool | None = None
    all_: list["Condition"] | None = Field(default=None, alias="all")
    any_: list["Condition"] | None = Field(default=None, alias="any")
    not_: "Condition | None" = Field(default=None, alias="not")

    @field_validator("header", mode="before")
    @classmethod
    def _headers(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v


class Forward(_Strict):
    to: list[str]
    note: str | None = Field(default=None, description="Text above the forwarded message.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return {"to": v} if isinstance(v, str | list) else v

    _to = field_validator("to", mode="before")(_as_list)


class Reply(_Strict):
    """A reply from a Jinja2 template that sees ``message`` (from, subject, date, body...)."""

    template: str
    subject: str | None = Field(default=None, description="Default: Re: <subject>.")
    draft: bool = Field(default=False, description="Save to the Drafts folder instead of sending.")
    auto: bool = Field(
        default=False, description="An auto-reply: never to lists, bulk or auto mail."
    )


class Collect(_Strict):
    """Save attachments to the run's spool for later steps; optionally only some of them."""

    name: Text | None = None
    type: Text | None = None


class ActionSpec(_Strict):
    """One action; written as a bare word (``flag``) or a one-key mapping (``move: Fatture``)."""

    move: str | None = None
    copy_: str | None = Field(default=None, alias="copy")
    flag: bool | str | None = None
    unflag: bool | str | None = None
    mark_read: bool | None = None
    mark_unread: bool | None = None
    label: str | None = None
    delete: bool | None = None
    forward: Forward | None = None
    reply: Reply | None = None
    collect_attachments: Collect | None = None

    @model_validator(mode="before")
    @classmethod
    def _word(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {v: {} if v == "collect_attachments" else True}
        if isinstance(v, dict) and v.get("collect_attachments") is True:
            return {**v, "collect_attachments": {}}
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        set_ = [k for k in type(self).model_fields if getattr(self, k) not in (None, False)]
        if len(set_) != 1:
            raise ValueError(
                "each action is one of move, copy, flag, unflag, mark_read, mark_unread, "
                "label, delete, forward, reply, collect_attachments"
            )
        return self

    @property
    def verb(self) -> str:
        return next(
            k for k in type(self).model_fields if getattr(self, k) not in (None, False)
        ).rstrip("_")


class Rule(_Strict):
    """A named rule: when ``match`` holds, do ``actions``; the first matching rule wins unless
    it says ``continue: true``. A rule without ``match`` matches every message."""

    name: str
    match: Condition | None = None
    actions: list[ActionSpec] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")

    @property
    def ends(self) -> bool:
        """Whether the rule moves or deletes the message (no later rule can apply)."""
        return any(a.move or a.delete for a in self.actions)


class TriageParams(_Strict):
    """``email.triage``: sort the new messages of one folder by ordered rules."""

    account: Annotated[str, avflow.AccountRef("imap", "maildir")]
    folder: str = "INBOX"
    rules: list[Rule] = Field(min_length=1)
    create_folders: bool = Field(default=True, description="Create missing destination folders.")
    rescan: bool = Field(default=False, description="Look at every message, not only new ones.")
