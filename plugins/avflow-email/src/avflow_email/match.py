"""Evaluating rule conditions against a `Mail`, and working out what must be fetched for them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial

from avflow_email.message import Mail
from avflow_email.rules import Condition, Header, Rule, Text

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


Check = Callable[[Mail, datetime], bool]


def _header_check(h: Header) -> Check:
    def check(mail: Mail, now: datetime) -> bool:
        values = mail.header(h.name)
        if h.exists is not None and bool(values) != h.exists:
            return False
        return not ((h.contains or h.equals or h.regex) and not text_matches(h, values))

    return check


def _age_check(older: float | None, newer: float | None) -> Check:
    def check(mail: Mail, now: datetime) -> bool:
        when = mail.date
        if when is None:
            return False
        age = (now - when).total_seconds()
        if older is not None and not age > older:
            return False
        return not (newer is not None and not age < newer)

    return check


def _compile(cond: Condition) -> tuple[Check, ...]:
    """The tests ``cond`` sets, in evaluation order (cheap header tests first, attachments and
    bodies last), so a message is checked without looking at the keys a rule leaves out."""
    checks: list[Check] = []
    for name, test in (("from", cond.from_), ("to", cond.to), ("cc", cond.cc)):
        if test is not None:
            checks.append(partial(_address_check, test, name))
    if cond.subject is not None:
        subject = cond.subject
        checks.append(lambda m, now: text_matches(subject, m.header("subject") or [""]))
    checks += [_header_check(h) for h in cond.header or []]
    if cond.mailing_list is not None:
        wanted = cond.mailing_list
        checks.append(lambda m, now: m.is_list == wanted)
    if cond.size is not None:
        larger, smaller = cond.size.larger_than, cond.size.smaller_than
        if larger is not None:
            checks.append(lambda m, now: m.size > larger)
        if smaller is not None:
            checks.append(lambda m, now: m.size < smaller)
    if cond.age is not None:
        checks.append(_age_check(cond.age.older_than, cond.age.newer_than))
    if cond.not_ is not None:
        inner = cond.not_
        checks.append(lambda m, now: not matches(inner, m, now))
    if cond.all_ is not None:
        every = cond.all_
        checks.append(lambda m, now: all(matches(c, m, now) for c in every))
    if cond.any_ is not None:
        some = cond.any_
        checks.append(lambda m, now: any(matches(c, m, now) for c in some))
    if cond.has_attachment is not None:
        has = cond.has_attachment
        checks.append(lambda m, now: bool(m.attachments) == has)
    if cond.attachment is not None:
        t = cond.attachment
        checks.append(
            lambda m, now: any(
                (t.name is None or text_matches(t.name, [a.name]))
                and (t.type is None or text_matches(t.type, [a.type]))
                for a in m.attachments
            )
        )
    if cond.body is not None:
        body = cond.body
        checks.append(lambda m, now: text_matches(body, [m.body]))
    return tuple(checks)


def _address_check(test: Text, name: str, mail: Mail, now: datetime) -> bool:
    return _address_test(test, mail, name)


_compiled: dict[int, tuple[Condition, tuple[Check, ...]]] = {}


def matches(cond: Condition | None, mail: Mail, now: datetime) -> bool:
    """Evaluate ``cond``; cheap header tests first, so attachments and bodies are asked for last.

    Raises `NeedStructure` / `NeedBody` when the answer depends on data not loaded yet.
    """
    if cond is None:
        return True
    cached = _compiled.get(id(cond))
    if cached is None or cached[0] is not cond:  # the identity check: ids are reused
        if len(_compiled) > 10_000:
            _compiled.clear()
        cached = _compiled[id(cond)] = (cond, _compile(cond))
    for check in cached[1]:  # noqa: SIM110 - a plain loop is faster than all() over a generator
        if not check(mail, now):
            return False
    return True


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
