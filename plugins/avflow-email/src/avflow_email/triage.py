"""The ``email.triage`` action: finish any interrupted plan, look at new mail, plan, perform.

Per account + folder, the plugin cursor keeps ``folder:<account>:<folder>`` (UIDVALIDITY, the last
UID looked at, UIDNEXT and HIGHESTMODSEQ; for a Maildir, the message keys looked at) and, while a
plan is being carried out, ``plan:<account>:<folder>``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import avflow
from avflow_email import moves as moving
from avflow_email import plan as planning
from avflow_email import recover
from avflow_email.accounts import open_mailbox
from avflow_email.backend import FolderState, Mailbox
from avflow_email.execute import Executor
from avflow_email.rules import TriageParams


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big folder is read and decided.

    Tens of thousands of small, long-lived objects (one `Mail`, its header dict and lists per
    message) make CPython run full collections over and over, each walking all of them; nothing
    in that phase makes reference cycles worth collecting. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merge(outputs: dict[str, Any], plan: dict[str, Any], ex: Executor) -> None:
    for kind in ("rules", "destinations"):
        for name, n in plan["counts"][kind].items():
            outputs[kind][name] = outputs[kind].get(name, 0) + n
    outputs["messages"] += plan["handled"]
    outputs["matched"] += len(plan["handled"])
    outputs["attachments"] += ex.attachments
    outputs["sent"] += ex.sent
    outputs["skipped"] += ex.skipped


class Triage:
    """One run of the action over one folder."""

    def __init__(
        self,
        ctx: avflow.StepContext,
        params: TriageParams,
        account: avflow.Account[Any],
        box: Mailbox,
    ) -> None:
        self.ctx = ctx
        self.p = params
        self.account = account
        self.box = box
        self.where = f"{account.name}:{params.folder}"
        self.log = ctx.log.bind(account=account.name, folder=params.folder)
        self.outputs: dict[str, Any] = {
            "account": account.name,
            "folder": params.folder,
            "scanned": 0,
            "matched": 0,
            "rules": {},
            "destinations": {},
            "messages": [],
            "attachments": [],
            "sent": [],
            "skipped": [],
            "uidvalidity_changed": False,
        }

    def run(self) -> dict[str, Any]:
        ctx, p = self.ctx, self.p
        plan_key, folder_key = f"plan:{self.where}", f"folder:{self.where}"
        pending = None if ctx.dry_run else ctx.cursor.get(plan_key)
        if pending is not None:
            self.finish(pending, plan_key, folder_key, resumed=True)
        cursor = ctx.cursor.get(folder_key) or {}
        status = self.box.status(p.folder)
        if cursor and cursor.get("uidvalidity") != status.uidvalidity:
            self.outputs["uidvalidity_changed"] = True
            ctx.note(
                f"UIDVALIDITY of {p.folder} on {self.account.name} changed "
                f"({cursor.get('uidvalidity')} -> {status.uidvalidity}): every message is looked at again"
            )
            cursor = {}
        if cursor and not p.rescan and cursor.get("token") == status.token:
            self.log.debug("no new mail", token=status.token)
            return self.outputs
        selected = self.box.select(p.folder)
        after = None if p.rescan else cursor.get("after")
        trash = self._trash() if any(a.delete for r in p.rules for a in r.actions) else "Trash"
        with _collector_paused(), avflow.progress(f"reading {p.folder}"):
            mails, decided = planning.scan(self.box, p, after, ctx.now())
            plan = planning.build(p, self.account.name, selected.uidvalidity, mails, decided, trash)
        self.outputs["scanned"] = len(mails)
        plan["cursor"] = {
            "uidvalidity": selected.uidvalidity,
            "token": selected.token,
            "highestmodseq": selected.highestmodseq,
            "after": self._after(after, mails, plan),
        }
        # The plan holds all that is needed from here on: the messages can go now, while few
        # objects are young, instead of surviving into the collections the outputs set off.
        del mails, decided
        if ctx.dry_run:
            ex = Executor(ctx, self.account, self.box, plan)
            ex.run(p.create_folders)
            _merge(self.outputs, plan, ex)
            return self.outputs
        if plan["ops"]:
            self._prepare_moves(plan)
            if self.box.kind == "imap":  # where each destination stood (avflow_email.recover)
                recover.record_marks(self.box, plan)
            ctx.cursor.set(plan_key, plan)
            self.finish(plan, plan_key, folder_key, selected)
        else:
            ctx.cursor.set(folder_key, plan["cursor"])
            _merge(self.outputs, plan, Executor(ctx, self.account, self.box, plan))
        return self.outputs

    def finish(
        self,
        plan: dict[str, Any],
        plan_key: str,
        folder_key: str,
        current: FolderState | None = None,
        resumed: bool = False,
    ) -> None:
        """Carry out ``plan`` (new, or left by an interrupted run), then advance the cursor.

        ``current`` is the folder's state when the caller has just selected it to make the plan.
        """
        if current is None:
            current = self.box.select(plan["folder"])
        if current.uidvalidity != plan["uidvalidity"]:
            self.ctx.note(
                f"an unfinished plan for {plan['folder']} was dropped: the folder's "
                "UIDVALIDITY changed, its UIDs no longer name the same messages"
            )
            self.ctx.cursor.delete(plan_key)
            return
        ex = Executor(self.ctx, self.account, self.box, plan, resumed)
        ex.run(self.p.create_folders)
        self.ctx.cursor.set(folder_key, plan["cursor"])
        self.ctx.cursor.delete(plan_key)
        _merge(self.outputs, plan, ex)
        self.log.info("triage done", handled=len(plan["handled"]), ops=len(plan["ops"]))

    def _prepare_moves(self, plan: dict[str, Any]) -> None:
        """Start opening the extra connections the plan's moves will go over (see
        `avflow_email.moves`), while the plan is saved and the flags are set."""
        connections = getattr(self.box, "parallel_moves", 1)
        prepare = getattr(self.box, "prepare_siblings", None)
        batches = moving.plan_moves(plan["ops"])[1]
        if prepare is not None and moving.worth_parallel(batches, connections):
            prepare(min(connections, len(batches)) - 1)

    def _after(self, after: Any, mails: list[Any], plan: dict[str, Any]) -> Any:
        if self.box.kind == "imap":
            return max([int(after or 0), *(int(m.uid) for m in mails)])
        # Keys of messages no longer in the folder are forgotten, so the list does not grow.
        moved = {u for op in plan["ops"] if op["op"] == "move" for u in op["uids"]}
        present = set(getattr(self.box, "listed", set()))
        return sorted(((set(after or []) & present) | {m.uid for m in mails}) - moved)

    def _trash(self) -> str:
        s = self.account.settings
        return str(s.trash_folder or self.box.special_folder("\\Trash", "Trash"))


def run(ctx: avflow.StepContext, params: TriageParams) -> dict[str, Any]:
    """``email.triage``: sort the new messages of ``folder`` by ``rules``."""
    account = ctx.account(params.account)
    box = open_mailbox(account, ctx.client)
    try:
        return Triage(ctx, params, account, box).run()
    finally:
        box.close()
