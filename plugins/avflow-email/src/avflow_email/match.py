"""Evaluating rule conditions against a `Mail`, and working out what must be fetched for them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from avflow_email.message import Mail
from avflow_email.rules import Condition, Rule, Text

# Always fetched: what the outputs need. Others only when a rule reads them.
BASE_HEADERS = ("from", "subject", "date", "message-id")


@dataclass
class Needs:
    """What the rules read: header names, and whether attachments, bodies or dates are needed."""

    headers: set[str] = field(default_factory=lambda: set(BASE_HEADERS))
    structure: bool = False
    body: bool = False
    age: bool = False
    size: bool = False


def needs_of(rules: Iterable[Rule]) -> Needs:
    needs = Needs()

    def walk(c: Condition | None) -> None:
        if c is None:
            return
        for h in c.header or []:
            needs.headers.add(h.name.lower())
        if c.to is not None:
            needs.headers.add("to")
        if c.cc is not None:
            needs.headers.add("cc")
        if c.mailing_list is not None:
            needs.headers.update(("list-id", "list-unsubscribe", "list-post", "precedence"))
        if c.has_attachment is not None or c.attachment is not None:
            needs.structure = True
        if c.body is not None:
            needs.body = True
        if c.age is not None:
            needs.age = True
        if c.size is not None:
            needs.size = True
        for sub in (c.all_ or []) + (c.any_ or []):
            walk(sub)
        walk(c.not_)

    for rule in rules:
        walk(rule.match)
        for action in rule.actions:
            if action.reply is not None and action.reply.auto:
                needs.headers.update(
                    ("list-id", "list-unsubscribe", "list-post", "precedence", "auto-submitted")
                )
    return needs


@lru_cache(maxsize=512)
def _regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    return re.compile(pattern, 0 if case_sensitive else re.I)


_needles: dict[int, tuple[Text, tuple[str, ...], tuple[str, ...]]] = {}


def text_matches(test: Text, values: Iterable[str]) -> bool:
    """True when any value passes the test (any of its contains / equals / regex)."""
    cs = test.case_sensitive
    cached = _needles.get(id(test))
    if cached is None or cached[0] is not test:  # the identity check: ids are reused
        if len(_needles) > 10_000:
            _needles.clear()
        cached = _needles[id(test)] = (test, *test.needles())
    _, contains, equals = cached
    for value in values:
        folded = value if cs else value.casefold()
        if contains and any(n in folded for n in contains):
            return True
        if equals and folded.strip() in equals:
            return True
        if test.regex and any(_regex(p, cs).search(value) for p in test.regex):
            return True
    return False


def _address_test(test: Text, mail: Mail, name: str) -> bool:
    # The header holds name and address, so "contains" needs nothing more; "equals" and "regex"
    # also see each bare address ("from: {equals: a@b.it}"), parsed only for them.
    values = mail.header(name)
    if text_matches(test, values):
        return True
    return bool(test.equals or test.regex) and text_matches(test, mail.addresses(name))


def matches(cond: Condition | None, mail: Mail, now: datetime) -> bool:
    """Evaluate ``cond``; cheap header tests first, so attachments and bodies are asked for last.

    Raises `NeedStructure` / `NeedBody` when the answer depends on data not loaded yet.
    """
    if cond is None:
        return True
    for name, test in (("from", cond.from_), ("to", cond.to), ("cc", cond.cc)):
        if test is not None and not _address_test(test, mail, name):
            return False
    if cond.subject is not None and not text_matches(cond.subject, mail.header("subject") or [""]):
        return False
    for h in cond.header or []:
        values = mail.header(h.name)
        if h.exists is not None and bool(values) != h.exists:
            return False
        if (h.contains or h.equals or h.regex) and not text_matches(h, values):
            return False
    if cond.mailing_list is not None and mail.is_list != cond.mailing_list:
        return False
    if cond.size is not None:
        if cond.size.larger_than is not None and not mail.size > cond.size.larger_than:
            return False
        if cond.size.smaller_than is not None and not mail.size < cond.size.smaller_than:
            return False
    if cond.age is not None:
        when = mail.date
        if when is None:
            return False
        age = (now - when).total_seconds()
        if cond.age.older_than is not None and not age > cond.age.older_than:
            return False
        if cond.age.newer_than is not None and not age < cond.age.newer_than:
            return False
    if cond.not_ is not None and matches(cond.not_, mail, now):
        return False
    if cond.all_ is not None and not all(matches(c, mail, now) for c in cond.all_):
        return False
    if cond.any_ is not None and not any(matches(c, mail, now) for c in cond.any_):
        return False
    if cond.has_attachment is not None and bool(mail.attachments) != cond.has_attachment:
        return False
    if cond.attachment is not None:
        t = cond.attachment
        if not any(
            (t.name is None or text_matches(t.name, [a.name]))
            and (t.type is None or text_matches(t.type, [a.type]))
            for a in mail.attachments
        ):
            return False
    return not (cond.body is not None and not text_matches(cond.body, [mail.body]))


def matching_rules(rules: list[Rule], mail: Mail, now: datetime) -> list[Rule]:
    """The rules that apply to ``mail``: the first match, plus later ones while rules continue.

    A rule that moves or deletes the message ends the list: the message is no longer there.
    """
    out = []
    for rule in rules:
        if matches(rule.match, mail, now):
            out.append(rule)
            if not rule.continue_ or rule.ends:
                break
    return out
