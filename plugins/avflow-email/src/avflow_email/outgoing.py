"""Forwards, replies and drafts of a plan: each sent exactly once (see `avflow_email.sending`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import avflow
from avflow_email import oauth
from avflow_email.backend import DRAFT, SEEN, Mailbox
from avflow_email.message import Mail
from avflow_email.sending import (
    auto_reply_allowed,
    build_forward,
    build_reply,
    message_id,
    recipients,
    smtp_send,
)


class Outgoing:
    """Mixed into `avflow_email.execute.Executor`."""

    ctx: avflow.StepContext
    account: avflow.Account[Any]
    s: Any
    box: Mailbox
    plan: dict[str, Any]
    folder: str
    base: str
    sender: str
    sent: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    rendered: dict[int, tuple[str, str | None]]  # reply op's id: its body and subject
    effect: Callable[..., Any]

    def _key(self, op: dict[str, Any]) -> tuple[str, str]:
        raise NotImplementedError

    def _status(self, op: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def _mail(self, uid: Any, full: bytes | None) -> Mail | None:
        raise NotImplementedError

    def render_replies(self, ops: list[dict[str, Any]], full: dict[Any, bytes]) -> None:
        """Render every reply still to be made before the step's first effect: a template that
        fails (a division by zero, a filter misused) fails the step with nothing changed."""
        self.rendered = {}
        for op in ops:
            if op["op"] != "reply" or self.ctx.dry_run or self._status(op) == "done":
                continue
            mail = self._mail(op["uid"], full.get(op["uid"]))
            if mail is None or (op["auto"] and not auto_reply_allowed(mail, self.sender)):
                continue  # said when its turn comes, as before
            self.rendered[id(op)] = self._render_reply(op, mail)

    def _render_reply(self, op: dict[str, Any], mail: Mail) -> tuple[str, str | None]:
        info = self.plan["infos"].get(str(op["uid"]), {})
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
            raise avflow.StepFailed(
                f"reply template: {exc} (for {info.get('subject', op['uid'])!r}; nothing was "
                "changed in the mailbox)"
            ) from None
        return body, subject

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
        body, subject = self.rendered.get(id(op)) or self._render_reply(op, mail)
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
