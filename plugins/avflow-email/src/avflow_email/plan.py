"""Deciding what to do with the new messages of a folder: a plan of batched operations.

The plan is plain JSON and is saved in the plugin's cursor before anything is changed, so that a
run interrupted at any point (a kill, a dropped connection) finishes *the same* plan, with the same
effect keys, instead of deciding again over a folder it has half sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from avflow_email.backend import FLAGGED, SEEN, Mailbox
from avflow_email.match import matching_rules, needs_of
from avflow_email.message import Mail, NeedBody, NeedStructure
from avflow_email.rules import ActionSpec, Rule, TriageParams


def classify(
    box: Mailbox, rules: list[Rule], mails: list[Mail], now: datetime
) -> dict[Any, list[Rule]]:
    """Rules per message; attachment lists and bodies are fetched in batches, only when asked."""
    decided: dict[Any, list[Rule]] = {}
    pending = list(mails)
    for _ in range(4):
        need_structure: list[Mail] = []
        need_body: list[Mail] = []
        for mail in pending:
            try:
                decided[mail.uid] = matching_rules(rules, mail, now)
            except NeedStructure:
                need_structure.append(mail)
            except NeedBody:
                need_body.append(mail)
        if not need_structure and not need_body:
            break
        box.load_structure(need_structure)
        box.load_full(need_body)
        pending = need_structure + need_body
    return decided


def _flag_name(value: bool | str) -> str:
    return FLAGGED if value is True else str(value)


def _flag_change(a: ActionSpec) -> tuple[str, bool] | None:
    """The flag an action sets (True) or clears (False), if it is a flag change."""
    if a.flag:
        return _flag_name(a.flag), True
    if a.unflag:
        return _flag_name(a.unflag), False
    if a.mark_read:
        return SEEN, True
    if a.mark_unread:
        return SEEN, False
    return None


def _single(uid: Any, rule: Rule, a: ActionSpec) -> dict[str, Any] | None:
    """The per-message operation of a forward, reply or collect action (else None)."""
    if a.forward:
        return {
            "op": "forward",
            "uid": uid,
            "rule": rule.name,
            "to": a.forward.to,
            "note": a.forward.note,
        }
    if a.reply:
        return {"op": "reply", "uid": uid, "rule": rule.name, **a.reply.model_dump()}
    if a.collect_attachments is not None:
        found = a.collect_attachments.model_dump(mode="json")
        return {"op": "collect", "uid": uid, "rule": rule.name, **found}
    return None


class _Batches:
    """The plan's operations, gathered message by message (see `build`)."""

    def __init__(self, params: TriageParams, trash: str) -> None:
        self.folder = params.folder
        self.trash = trash
        self.verbs = {id(r): [(a.verb, a) for a in r.actions] for r in params.rules}
        self.flags: dict[tuple[str, bool], list[Any]] = {}
        self.labels: dict[str, list[Any]] = {}
        self.copies: dict[str, list[Any]] = {}
        self.moves: dict[str, list[Any]] = {}
        self.singles: list[dict[str, Any]] = []
        self.rule_counts: dict[str, int] = {}
        self.dest_counts: dict[str, int] = {}

    def add(self, uid: Any, rules: list[Rule]) -> tuple[str | None, list[str]]:
        """Gather one message's actions; its destination (if it moves) and the verbs done."""
        destination: str | None = None
        done: list[str] = []
        for rule in rules:
            self.rule_counts[rule.name] = self.rule_counts.get(rule.name, 0) + 1
            for verb, a in self.verbs[id(rule)]:
                done.append(verb)
                destination = self._action(uid, rule, a, destination)
        return destination, done

    def _action(self, uid: Any, rule: Rule, a: ActionSpec, destination: str | None) -> str | None:
        flag = _flag_change(a)
        if flag is not None:
            self.flags.setdefault(flag, []).append(uid)
        elif a.label:
            self.labels.setdefault(a.label, []).append(uid)
        elif a.copy_:
            self.copies.setdefault(a.copy_, []).append(uid)
            self.dest_counts[a.copy_] = self.dest_counts.get(a.copy_, 0) + 1
        elif (a.move or a.delete) and destination is None:
            destination = a.move or self.trash
            if destination != self.folder:
                self.moves.setdefault(destination, []).append(uid)
                self.dest_counts[destination] = self.dest_counts.get(destination, 0) + 1
        elif (single := _single(uid, rule, a)) is not None:
            self.singles.append(single)
        return destination

    def ops(self) -> list[dict[str, Any]]:
        """Flag changes, labels, copies, per-message work, then moves (largest first)."""
        ops: list[dict[str, Any]] = []
        ops += [
            {"op": "flag", "flag": f, "add": add, "uids": u} for (f, add), u in self.flags.items()
        ]
        ops += [{"op": "label", "label": lab, "uids": u} for lab, u in self.labels.items()]
        ops += [{"op": "copy", "dest": d, "uids": u} for d, u in self.copies.items()]
        ops += self.singles
        # Largest batch first: each MOVE makes the server sync the source folder, which is then
        # smaller for the moves that follow.
        ops += [
            {"op": "move", "dest": d, "uids": u}
            for d, u in sorted(self.moves.items(), key=lambda m: -len(m[1]))
        ]
        return ops


def build(
    params: TriageParams,
    account: str,
    uidvalidity: Any,
    mails: Sequence[Mail],
    decided: dict[Any, list[Rule]],
    trash: str,
) -> dict[str, Any]:
    """Turn per-message decisions into batched operations, in a safe order.

    Order: flag changes (one STORE per flag change), labels, copies (one per destination),
    per-message work (collect, forward, reply: the message is still where it was), then moves
    (one per destination) last.
    """
    batches = _Batches(params, trash)
    handled: list[dict[str, Any]] = []
    infos: dict[str, dict[str, Any]] = {}
    for mail in mails:
        rules = decided.get(mail.uid) or []
        if not rules:
            continue
        destination, done = batches.add(mail.uid, rules)
        summary = mail.summary()
        if batches.singles and batches.singles[-1]["uid"] == mail.uid:
            infos[str(mail.uid)] = summary
        handled.append(
            {
                **summary,
                "rule": ", ".join(r.name for r in rules),
                "destination": destination or params.folder,
                "actions": done,
            }
        )
    return {
        "version": 1,
        "account": account,
        "folder": params.folder,
        "uidvalidity": uidvalidity,
        "ops": batches.ops(),
        "handled": handled,
        "infos": infos,
        "counts": {"rules": batches.rule_counts, "destinations": batches.dest_counts},
    }


def scan(
    box: Mailbox, params: TriageParams, after: Any, now: datetime
) -> tuple[list[Mail], dict[Any, list[Rule]]]:
    """Fetch the headers of the messages after ``after`` and decide which rules apply."""
    uids = box.new_messages(after)
    if not uids:
        return [], {}
    rules = params.rules
    decided: dict[Any, list[Rule]] = {}
    later: list[Mail] = []

    def decide(arrived: list[Mail]) -> None:
        # Runs while the server reads the next chunk: header tests, and the summary the plan
        # keeps of each matched message, cost no wall-clock time.
        for mail in arrived:
            try:
                found = decided[mail.uid] = matching_rules(rules, mail, now)
            except (NeedStructure, NeedBody):
                later.append(mail)
                continue
            if found:
                mail.summary()

    mails = box.fetch(uids, needs_of(rules), decide)
    seen = {m.uid for m in later}
    rest = [m for m in mails if m.uid not in decided and m.uid not in seen]
    decided.update(classify(box, rules, later + rest, now))
    return mails, decided
