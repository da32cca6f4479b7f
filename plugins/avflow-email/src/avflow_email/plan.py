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
from avflow_email.rules import Rule, TriageParams


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
    flags: dict[tuple[str, bool], list[Any]] = {}
    labels: dict[str, list[Any]] = {}
    copies: dict[str, list[Any]] = {}
    moves: dict[str, list[Any]] = {}
    singles: list[dict[str, Any]] = []
    handled: list[dict[str, Any]] = []
    rule_counts: dict[str, int] = {}
    dest_counts: dict[str, int] = {}
    infos: dict[str, dict[str, Any]] = {}
    verbs = {id(r): [(a.verb, a) for a in r.actions] for r in params.rules}
    for mail in mails:
        rules = decided.get(mail.uid) or []
        if not rules:
            continue
        destination: str | None = None
        done: list[str] = []
        for rule in rules:
            rule_counts[rule.name] = rule_counts.get(rule.name, 0) + 1
            for verb, a in verbs[id(rule)]:
                done.append(verb)
                if a.flag:
                    flags.setdefault((_flag_name(a.flag), True), []).append(mail.uid)
                elif a.unflag:
                    flags.setdefault((_flag_name(a.unflag), False), []).append(mail.uid)
                elif a.mark_read:
                    flags.setdefault((SEEN, True), []).append(mail.uid)
                elif a.mark_unread:
                    flags.setdefault((SEEN, False), []).append(mail.uid)
                elif a.label:
                    labels.setdefault(a.label, []).append(mail.uid)
                elif a.copy_:
                    copies.setdefault(a.copy_, []).append(mail.uid)
                    dest_counts[a.copy_] = dest_counts.get(a.copy_, 0) + 1
                elif (a.move or a.delete) and destination is None:
                    destination = a.move or trash
                    if destination != params.folder:
                        moves.setdefault(destination, []).append(mail.uid)
                        dest_counts[destination] = dest_counts.get(destination, 0) + 1
                elif a.forward:
                    singles.append(
                        {
                            "op": "forward",
                            "uid": mail.uid,
                            "rule": rule.name,
                            "to": a.forward.to,
                            "note": a.forward.note,
                        }
                    )
                elif a.reply:
                    singles.append(
                        {"op": "reply", "uid": mail.uid, "rule": rule.name, **a.reply.model_dump()}
                    )
                elif a.collect_attachments is not None:
                    singles.append(
                        {
                            "op": "collect",
                            "uid": mail.uid,
                            "rule": rule.name,
                            **a.collect_attachments.model_dump(mode="json"),
                        }
                    )
        summary = mail.summary()
        if singles and singles[-1]["uid"] == mail.uid:
            infos[str(mail.uid)] = summary
        handled.append(
            {
                **summary,
                "rule": ", ".join(r.name for r in rules),
                "destination": destination or params.folder,
                "actions": done,
            }
        )
    ops: list[dict[str, Any]] = []
    ops += [{"op": "flag", "flag": f, "add": add, "uids": u} for (f, add), u in flags.items()]
    ops += [{"op": "label", "label": lab, "uids": u} for lab, u in labels.items()]
    ops += [{"op": "copy", "dest": d, "uids": u} for d, u in copies.items()]
    ops += singles
    # Largest batch first: each MOVE makes the server sync the source folder, which is then
    # smaller for the moves that follow.
    ops += [
        {"op": "move", "dest": d, "uids": u}
        for d, u in sorted(moves.items(), key=lambda m: -len(m[1]))
    ]
    return {
        "version": 1,
        "account": account,
        "folder": params.folder,
        "uidvalidity": uidvalidity,
        "ops": ops,
        "handled": handled,
        "infos": infos,
        "counts": {"rules": rule_counts, "destinations": dest_counts},
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
