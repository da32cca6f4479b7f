"""Carrying out a plan, every change through the effect ledger.

Batched changes (flags, labels, copies, moves) are one effect per batch, keyed by the account,
folder, UIDVALIDITY and the batch's UID set; they are safe to repeat (a UID MOVE of messages already
moved moves nothing; a copy skips Message-IDs already in the destination). Sends are one effect per
message, keyed per workflow so no later run sends them again, reconciled against the Sent folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import avflow
from avflow_email import moves as moving
from avflow_email import oauth
from avflow_email.accounts import sender_address
from avflow_email.backend import DRAFT, SEEN, Mailbox, uid_set
from avflow_email.match import text_matches
from avflow_email.message import Mail, parse_headers
from avflow_email.rules import Text
from avflow_email.sending import (
    auto_reply_allowed,
    build_forward,
    build_reply,
    message_id,
    recipients,
    smtp_send,
)

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def digest(uids: list[Any]) -> str:
    text = (
        uid_set(uids) if all(isinstance(u, int) for u in uids) else ",".join(sorted(map(str, uids)))
    )
    if len(text) <= 48:
        return text
    return f"{len(uids)}x{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _split_full(full: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = full.find(sep)
        if at >= 0:
            return full[:at]
    return full


def safe_name(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "attachment"
    return cleaned[:120]


class Executor:
    """Performs one plan against an open mailbox."""

    def __init__(
        self,
        ctx: avflow.StepContext,
        account: avflow.Account[Any],
        box: Mailbox,
        plan: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.account = account
        self.s = account.settings
        self.box = box
        self.plan = plan
        self.folder = plan["folder"]
        self.base = f"{account.name}/{self.folder}/{plan['uidvalidity']}"
        self.sender = sender_address(account)
        self.attachments: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []

    def effect(
        self,
        key: str,
        description: str,
        perform: Callable[[], Any],
        kind: str,
        *,
        reconcile: Callable[[], Any] | None = None,
        idempotent: bool = True,
        scope: str = "run",
    ) -> Any:
        return self.ctx.effect(
            f"{self.base}/{key}",
            description,
            perform,
            kind=kind,
            reconcile=reconcile,
            idempotent=idempotent,
            scope=scope,
        )

    def run(self, create_folders: bool) -> None:
        ops = self.plan["ops"]
        self._ensure_folders(
            {op["dest"] for op in ops if op["op"] in ("move", "copy")}, create_folders
        )
        singles = [op for op in ops if op["op"] in ("collect", "forward", "reply")]
        full = self._bodies(singles)
        connections = getattr(self.box, "parallel_moves", 1)
        before, batches = moving.plan_moves(ops)
        together = moving.worth_parallel(batches, connections)
        for op in before if together else ops:
            kind, uids = op["op"], op.get("uids", [])
            n = f"{len(uids)} message{'s' if len(uids) != 1 else ''}"
            if kind == "flag":
                sign = "+" if op["add"] else "-"
                self.effect(
                    f"flag{sign}{op['flag']}/{digest(uids)}",
                    f"{'set' if op['add'] else 'clear'} {op['flag']} on {n} in {self.folder}",
                    partial(self.box.set_flag, uids, op["flag"], op["add"]),
                    "email.flag",
                )
            elif kind == "label":
                self.effect(
                    f"label/{op['label']}/{digest(uids)}",
                    f"label {n} in {self.folder} {op['label']!r}",
                    partial(self.box.add_label, uids, op["label"]),
                    "email.label",
                )
            elif kind == "copy":
                self.effect(
                    f"copy/{op['dest']}/{digest(uids)}",
                    f"copy {n} from {self.folder} to {op['dest']}",
                    partial(self.box.copy, uids, op["dest"]),
                    "email.copy",
                )
            elif kind == "move":
                self.effect(
                    f"move/{op['dest']}/{digest(uids)}",
                    f"move {n} from {self.folder} to {op['dest']}",
                    partial(self.box.move, uids, op["dest"]),
                    "email.move",
                )
            elif kind == "collect":
                self._collect(op, full.get(op["uid"]))
            elif kind == "forward":
                self._forward(op, full.get(op["uid"]))
            elif kind == "reply":
                self._reply(op, full.get(op["uid"]))
        if together:
            self._move_together(batches, connections)

    def _move_together(self, batches: list[moving.Batch], connections: int) -> None:
        """Every move and flag or label change of the plan as one effect, carried out over
        several connections at once.

        Safe to repeat as a whole (see `avflow_email.moves`): a run interrupted in the middle
        sets and moves again what is still in the folder, and moves nothing twice.
        """
        text = "\n".join(
            f"{b.dest or ''}\0{digest(b.uids)}"
            + "".join(
                f"\0{s['op']}{s.get('flag', s.get('label'))}{s.get('add')}{digest(s['uids'])}"
                for s in b.stores
            )
            for b in batches
        )
        key = f"moves/{len(batches)}x{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        total = sum(len(b.uids) for b in batches if b.dest is not None)
        parts = ", ".join(
            f"{len(b.uids)} to {b.dest}" + (f" ({b.changes()} first)" if b.stores else "")
            for b in batches
            if b.dest is not None
        ) + "".join(
            f"; {b.changes()} on {len(b.uids)} that stay" for b in batches if b.dest is None
        )
        self.effect(
            key,
            f"move {total} messages from {self.folder}: {parts}",
            partial(moving.move_batches, self.box, batches, connections),
            "email.move",
        )

    # -- folders and bodies -----------------------------------------------------------------------
    def _ensure_folders(self, folders: set[str], create: bool) -> None:
        for folder in sorted(folders):
            if self.box.folder_exists(folder):
                continue
            if not create:
                raise avflow.StepFailed(
                    f"account {self.account.name!r}: folder {folder!r} does not exist "
                    "(create it, or set create_folders: true)"
                )
            self.ctx.effect(
                f"{self.account.name}/create/{folder}",
                f"create folder {folder}",
                partial(self.box.create_folder, folder),
                kind="email.create_folder",
                idempotent=True,
            )

    def _bodies(self, singles: list[dict[str, Any]]) -> dict[Any, bytes]:
        if self.ctx.dry_run:
            return {}
        todo = {op["uid"] for op in singles if self._status(op) != "done"}
        return self.box.fetch_full(sorted(todo)) if todo else {}

    def _key(self, op: dict[str, Any]) -> tuple[str, str]:
        if op["op"] == "forward":
            return f"{op['uid']}/forward/{digest(sorted(op['to']))}", "workflow"
        if op["op"] == "reply":
            return f"{op['uid']}/{'draft' if op['draft'] else 'reply'}", "workflow"
        return f"{op['uid']}/collect", "run"

    def _status(self, op: dict[str, Any]) -> str | None:
        key, scope = self._key(op)
        return self.ctx.effect_status(f"{self.base}/{key}", scope=scope)

    def _mail(self, uid: Any, full: bytes | None) -> Mail | None:
        if full is None:
            return None
        return Mail(uid, parse_headers(_split_full(full)), len(full), full=full)

    # -- per-message work -------------------------------------------------------------------------
    def _collect(self, op: dict[str, Any], full: bytes | None) -> None:
        key, scope = self._key(op)
        name_test = Text.model_validate(op["name"]) if op.get("name") else None
        type_test = Text.model_validate(op["type"]) if op.get("type") else None
        info = self.plan["infos"].get(str(op["uid"]), {})

        def perform() -> list[dict[str, Any]]:
            mail = self._mail(op["uid"], full)
            if mail is None:
                self.ctx.log.warning(
                    "message gone before its attachments were collected", uid=op["uid"]
                )
                return []
            folder = self.ctx.spool / "attachments" / safe_name(str(op["uid"]))
            files = []
            for n, (name, mtype, payload) in enumerate(mail.attachment_payloads(), 1):
                if name_test and not text_matches(name_test, [name]):
                    continue
                if type_test and not text_matches(type_test, [mtype]):
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                # numbered: two names alike once made safe (a/b.pdf, a\b.pdf) never share a file;
                # the original name travels in the item's "name"
                path = folder / f"{n:03d}-{safe_name(name)}"
                path.write_bytes(payload)
                files.append(
                    {
                        "name": name,
                        "size": len(payload),
                        "type": mtype,
                        "path": str(path),
                        "sender": mail.sender,
                        "sender_domain": mail.sender.rpartition("@")[2],
                        "subject": info.get("subject", mail.first("subject")),
                        "date": info.get("date"),
                        "message_id": mail.message_id,
                        "uid": op["uid"],
                    }
                )
            return files

        got = self.effect(
            key,
            f"collect the attachments of {info.get('subject', op['uid'])!r}",
            perform,
            "email.collect",
            scope=scope,
        )
        self.attachments += got or []

    def _sent_folder(self) -> str:
        return self.s.sent_folder or self.box.special_folder("\\Sent", "Sent")

    def _send(self, key: str, description: str, kind: str, msg: Any, msgid: str) -> None:
        """Send (or, for a Maildir with no SMTP, deliver to Outbox) exactly once."""
        data = msg.as_bytes()
        sent_folder = self._sent_folder()
        mark = f"sending:{msgid}"
        to = recipients(msg)
        local = self.s.smtp is None

        def perform() -> dict[str, Any]:
            if local:
                if self.box.kind != "maildir":
                    raise avflow.StepFailed(
                        f"account {self.account.name!r} has no smtp: settings, "
                        "so it cannot send mail"
                    )
                self.box.append("Outbox", data)
            else:
                assert self.s.smtp is not None
                oauth_settings = getattr(self.s, "oauth", None)
                smtp_send(
                    self.s.smtp,
                    getattr(self.s, "username", None),
                    getattr(self.s, "password", None),
                    msg,
                    lambda: self.ctx.cursor.set(mark, True),
                    (lambda: oauth.access_token(oauth_settings))
                    if oauth_settings is not None
                    else None,
                )
            if self.s.save_sent:
                self.box.append(sent_folder, data, [SEEN])
                self.ctx.cursor.delete(mark)
            return {"message_id": msgid, "to": to}

        def reconcile() -> dict[str, Any] | None:
            places = [sent_folder] + (["Outbox"] if local else [])
            if any(self.box.find_message_ids(f, [msgid]) for f in places):
                return {"message_id": msgid, "to": to, "reconciled": f"found in {sent_folder}"}
            if self.ctx.cursor.get(mark):
                # The server may have the mail (the kill came after DATA): never send it twice.
                if self.s.save_sent:
                    self.box.append(sent_folder, data, [SEEN])
                self.ctx.note(
                    f"{description}: interrupted while the server was receiving it; "
                    "treated as sent, not sent again",
                    message_id=msgid,
                )
                return {"message_id": msgid, "to": to, "reconciled": "delivery had started"}
            return None

        result = self.effect(
            key, description, perform, kind, reconcile=reconcile, idempotent=False, scope="workflow"
        )
        if result is not None:
            self.sent.append({**result, "kind": kind.removeprefix("email.")})

    def _forward(self, op: dict[str, Any], full: bytes | None) -> None:
        key, _ = self._key(op)
        info = self.plan["infos"].get(str(op["uid"]), {})
        description = f"forward {info.get('subject', op['uid'])!r} to {', '.join(op['to'])}"
        msgid = message_id(f"{self.ctx.client.id}/{self.base}/{key}", self.sender)
        if self._status(op) == "done" or self.ctx.dry_run:
            self.effect(
                key, description, lambda: None, "email.forward", idempotent=False, scope="workflow"
            )
            return
        mail = self._mail(op["uid"], full)
        if mail is None:
            raise avflow.StepFailed(f"{description}: the message is no longer in {self.folder}")
        msg = build_forward(full or b"", mail, self.sender, op["to"], op.get("note"), msgid)
        self._send(key, description, "email.forward", msg, msgid)

    def _reply(self, op: dict[str, Any], full: bytes | None) -> None:
        key, _ = self._key(op)
        info = self.plan["infos"].get(str(op["uid"]), {})
        kind = "email.draft" if op["draft"] else "email.reply"
        description = (
            f"{'draft a reply' if op['draft'] else 'reply'} to {info.get('from', '')} "
            f"about {info.get('subject', '')!r}"
        )
        msgid = message_id(f"{self.ctx.client.id}/{self.base}/{key}", self.sender)
        if self._status(op) == "done" or self.ctx.dry_run:
            self.effect(key, description, lambda: None, kind, idempotent=False, scope="workflow")
            return
        mail = self._mail(op["uid"], full)
        if mail is None:
            raise avflow.StepFailed(f"{description}: the message is no longer in {self.folder}")
        if op["auto"] and not auto_reply_allowed(mail, self.sender):
            self.skipped.append(
                {
                    "uid": op["uid"],
                    "action": "reply",
                    "reason": "no auto-reply to lists, bulk or automatic mail",
                }
            )
            return
        message = {
            **info,
            "from_address": mail.sender,
            "from_name": _display_name(mail.first("from")),
            "to": mail.first("to"),
            "body": mail.body,
        }
        try:
            body = self.ctx.render(op["template"], message=message)
            subject = self.ctx.render(op["subject"], message=message) if op.get("subject") else None
        except Exception as exc:
            raise avflow.StepFailed(f"reply template: {exc}") from None
        msg = build_reply(mail, self.sender, subject, body, msgid, op["auto"])
        if not op["draft"]:
            self._send(key, description, kind, msg, msgid)
            return
        drafts = self.s.drafts_folder or self.box.special_folder("\\Drafts", "Drafts")
        data = msg.as_bytes()

        def perform() -> dict[str, Any]:
            self.box.append(drafts, data, [DRAFT, SEEN])
            return {"message_id": msgid, "to": recipients(msg), "folder": drafts}

        def reconcile() -> dict[str, Any] | None:
            if self.box.find_message_ids(drafts, [msgid]):
                return {"message_id": msgid, "to": recipients(msg), "folder": drafts}
            return None

        result = self.effect(
            key, description, perform, kind, reconcile=reconcile, idempotent=False, scope="workflow"
        )
        if result is not None:
            self.sent.append({**result, "kind": "draft"})


def _display_name(value: str) -> str:
    from email.utils import parseaddr

    name, addr = parseaddr(value)
    return name or addr
