"""Filing rules: which files go where. The first rule whose ``match`` fits a file decides."""

import fnmatch
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:  # the file sniffer (its thread pool's futures) loads when files are filed
    from avflow_archive.incoming import Incoming
    from avflow_archive.sniff import Content


def _globs(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _glob_any(text: str, patterns: list[str]) -> bool:
    text = text.lower()
    return any(fnmatch.fnmatchcase(text, p.lower()) for p in patterns)


class Match(BaseModel):
    """Conditions on a file; all that are given must hold (an empty match fits every file)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | list[str] | None = Field(
        default=None, description="Glob(s) on the original file name, case-insensitive."
    )
    name_regex: str | None = Field(
        default=None, description="Regular expression searched in the file name."
    )
    type: str | list[str] | None = Field(
        default=None,
        description="Glob(s) on the content type sniffed from the bytes: application/pdf, image/*.",
    )
    sender: str | list[str] | None = Field(
        default=None, description="Glob(s) on the sender's address: *@enel.it."
    )
    subject: str | list[str] | None = Field(
        default=None, description="Text(s) the subject contains, case-insensitive."
    )
    subject_regex: str | None = None
    text: str | list[str] | None = Field(
        default=None,
        description="Text(s) the document contains (PDF or plain text), case-insensitive.",
    )
    text_regex: str | None = None
    after: date | None = Field(default=None, description="Sent (or dropped) on or after this day.")
    before: date | None = Field(default=None, description="Sent (or dropped) before this day.")
    origin: Literal["email", "drop"] | None = Field(
        default=None, description="Where the file came from."
    )

    @field_validator("name_regex", "subject_regex", "text_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return v

    @property
    def needs_text(self) -> bool:
        return self.text is not None or self.text_regex is not None

    def fits(
        self, item: "Incoming", content: "Content", when: datetime, text: Callable[[], str]
    ) -> bool:
        """Whether the file fits; its text is asked for last, and only if all else fits."""
        checks = [
            not self.name or _glob_any(item.name, _globs(self.name)),
            not self.name_regex or re.search(self.name_regex, item.name, re.I) is not None,
            not self.type or _glob_any(content.type, _globs(self.type)),
            not self.sender or _glob_any(item.address, _globs(self.sender)),
            not self.subject
            or any(s.lower() in item.subject.lower() for s in _globs(self.subject)),
            not self.subject_regex or re.search(self.subject_regex, item.subject, re.I) is not None,
            self.after is None or when.date() >= self.after,
            self.before is None or when.date() < self.before,
            self.origin is None or item.origin == self.origin,
        ]
        if not all(checks):
            return False
        if self.text:
            body = text().lower()
            if not any(t.lower() in body for t in _globs(self.text)):
                return False
        return not self.text_regex or re.search(self.text_regex, text(), re.I | re.M) is not None


class Rule(BaseModel):
    """A filing rule: files that fit ``match`` go to ``path`` (or are left alone with ``skip``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Shown in outputs and in the audit trail.")
    match: Match = Field(default_factory=Match)
    path: str | None = Field(
        default=None, description="Destination template; the step's `path` if not given."
    )
    skip: bool = Field(
        default=False, description="Files that fit are not filed (and stay in a drop folder)."
    )


def choose(
    rules: list[Rule], item: "Incoming", content: "Content", when: datetime, text: Callable[[], str]
) -> Rule | None:
    """The first rule that fits, or None."""
    for rule in rules:
        if rule.match.fits(item, content, when, text):
            return rule
    return None
