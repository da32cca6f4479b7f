"""Carrying out a plan, every change through the effect ledger.

Batched changes (flags, labels, copies, moves) are one effect per batch, keyed by the account,
folder, UIDVALIDITY and the batch's UID set; they are safe to repeat (a UID MOVE of messages already
moved moves nothing; a copy skips Message-IDs already in the destination). Sends are one effect per
message, keyed per workflow so no later run sends them again, reconciled against the Sent folder.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import avflow
from avflow_email import moves as moving
from avflow_email import recover
from avflow_email.accounts import sender_address
from avflow_email.backend import Mailbox, uid_set
from avflow_email.match import text_matches
from avflow_email.message import Mail, parse_headers
from avflow_email.outgoing import Outgoing
from avflow_email.rules import Text

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


def spool_name(prefix: str, name: str) -> str:
    """``prefix`` and the safe form of ``name``, cut to fit a file name (255 bytes)."""
    safe = safe_name(name)
    while len((prefix + safe).encode()) > 240:
        safe = safe[:-1]
    return prefix + (safe or "attachment")


class Executor(Outgoing):
    """Performs one plan against an open mailbox."""

    def __init__(
        self,
        ctx: avflow.StepContext,
        account: avflow.Account[Any],
        box: Mailbox,
        plan: dict[str, Any],
        resumed: bool = False,
    ) -> None:
        self.ctx = ctx
        self.resumed = resumed
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
        self.rendered = {}

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
        words: dict[str, Any] | None = None,
    ) -> Any:
        return self.ctx.effect(
            f"{self.base}/{key}",
            description,
            perform,
            kind=kind,
            reconcile=reconcile,
            idempotent=idempotent,
            scope=scope,
            words=words,
        )

    def run(self, create_folders: bool) -> None:
        ops = self.plan["ops"]
        singles = [op for op in ops if op["op"] in ("collect", "forward", "reply")]
        full = self._bodies(singles)
        self.render_replies(singles, full)  # before any effect: a template error changes nothing
        self._ensure_folders(
            {op["dest"] for op in ops if op["op"] in ("move", "copy")}, create_folders
        )
        connections = getattr(self.box, "parallel_moves", 1)
        before, batches = moving.plan_moves(ops)
        together = moving.worth_parallel(batches, connections)
        recovering = self._recovering()
        try:
            self._carry_out(before if together else ops, full)
            if together:
                self._move_together(batches, connections)
            if recovering is not None:  # the old command may have left second copies
                recovering.settle(self.box, self._dests())
                recovering.remove_second_copies(self.box, self.plan)
        finally:
            if recovering is not None:
                self.box.recovery = None  # type: ignore[attr-defined]

    def _dests(self) -> list[str]:
        return sorted({op["dest"] for op in self.plan["ops"] if op["op"] == "move"})

    def _recovering(self) -> recover.Recovery | None:
        """For a plan left by an interrupted run (this run resumed, or a new one), with moves on
        an IMAP server: its moves may have started and may still be going on at the server, so
        wait for them to finish, and reconcile (see `avflow_email.recover`)."""
        if not self.resumed or self.ctx.dry_run or self.box.kind != "imap" or not self._dests():
            return None
        self.ctx.note(
            f"finishing an interrupted triage of {self.folder}: waiting for the server to finish "
            "any move it was carrying out, then moving only what is not yet in its destination"
        )
        rec = recover.Recovery(self.folder, self.plan.get("marks") or {}, time.sleep)
        rec.settle(self.box, self._dests())
        self.box.recovery = rec  # type: ignore[attr-defined]
        return rec

    def _carry_out(self, ops: list[dict[str, Any]], full: dict[Any, bytes]) -> None:
        for op in ops:
            kind, uids = op["op"], op.get("uids", [])
            n = f"{len(uids)} message{'s' if len(uids) != 1 else ''}"
            if kind == "flag":
                sign = "+" if op["add"] else "-"
                self.effect(
                    f"flag{sign}{op['flag']}/{digest(uids)}",
                    f"{'set' if op['add'] else 'clear'} {op['flag']} on {n} in {self.folder}",
                    partial(self.box.set_flag, uids, op["flag"], op["add"]),
                    "email.flag",
                    words={"count": len(uids), "folder": self.folder},
                )
            elif kind == "label":
                self.effect(
                    f"label/{op['label']}/{digest(uids)}",
                    f"label {n} in {self.folder} {op['label']!r}",
                    partial(self.box.add_label, uids, op["label"]),
                    "email.label",
                    words={"count": len(uids), "label": op["label"]},
                )
            elif kind == "copy":
                self.effect(
                    f"copy/{op['dest']}/{digest(uids)}",
                    f"copy {n} from {self.folder} to {op['dest']}",
                    partial(self.box.copy, uids, op["dest"]),
                    "email.copy",
                    words={"count": len(uids), "folder": op["dest"]},
                )
            elif kind == "move":
                self.effect(
                    f"move/{op['dest']}/{digest(uids)}",
                    f"move {n} from {self.folder} to {op['dest']}",
                    partial(self.box.move, uids, op["dest"]),
                    "email.move",
                    words={"count": len(uids), "folder": op["dest"]},
                )
            elif kind == "collect":
                self._collect(op, full.get(op["uid"]))
            elif kind == "forward":
                self._forward(op, full.get(op["uid"]))
            elif kind == "reply":
                self._reply(op, full.get(op["uid"]))

    def _move_together(self, batches: list[moving.Batch], connections: int) -> None:
        """Every move and flag or label change of the plan as one effect, carried out over
        several connections at once.

        Safe to repeat as a whole (see `avflow_email.moves`): a run interrupted in the middle
        sets and moves again what is still in the folder, and moves nothing twice.
        """
        key = self._together_key(batches)
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
            words={
                "count": total,
                "folder": ", ".join(sorted({str(b.dest) for b in batches if b.dest})),
            },
        )

    @staticmethod
    def _together_key(batches: list[moving.Batch]) -> str:
        text = "\n".join(
            f"{b.dest or ''}\0{digest(b.uids)}"
            + "".join(
                f"\0{s['op']}{s.get('flag', s.get('label'))}{s.get('add')}{digest(s['uids'])}"
                for s in b.stores
            )
            for b in batches
        )
        return f"moves/{len(batches)}x{hashlib.sha256(text.encode()).hexdigest()[:16]}"

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
                words={"folder": folder},
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
            folder = self.ctx.spool / "attachments"
            prefix = f"{safe_name(str(op['uid']))}+"  # '+' is never in a safe name
            files = []
            for n, (name, mtype, payload) in enumerate(mail.attachment_payloads(), 1):
                if name_test and not text_matches(name_test, [name]):
                    continue
                if type_test and not text_matches(type_test, [mtype]):
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                # one folder for the run's attachments, each named by its message and numbered by
                # its place in it: two names alike once made safe (a/b.pdf, a\b.pdf) never share
                # a file; the original name travels in the item's "name"
                path = folder / spool_name(f"{prefix}{n:03d}-", name)
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
