"""The ``email.new_mail`` trigger: IMAP IDLE, reconnecting, with a liveness check; else polling.

``watch`` fires ``{"account", "folder", "uids", "count"}`` once for each batch of new messages.
Messages already in the folder when the watch starts do not fire (a scheduled triage handles
them). A dropped connection is reopened with a growing delay (1 s up to 5 min); while idling,
the connection is checked with NOOP every ``liveness`` seconds (a silent dead connection, such as a
NAT that forgot it, would otherwise idle forever).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

import avflow

if TYPE_CHECKING:  # the IMAP client is imported when a watch starts, not when the plugin loads
    from avflow_email.backend import Mailbox
    from avflow_email.imap import ImapMailbox


class NewMailParams(BaseModel):
    """``email.new_mail``: run the workflow when new mail arrives in ``folder``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    account: Annotated[str, avflow.AccountRef("imap", "maildir")]
    folder: str = "INBOX"
    poll_interval: float = Field(
        default=60.0, gt=0, description="Seconds between checks without IDLE."
    )
    liveness: float = Field(
        default=300.0, gt=0, description="Seconds between NOOP checks while idling."
    )
    idle: bool = Field(default=True, description="Use IMAP IDLE when the server offers it.")


class _Watch:
    def __init__(self, ctx: avflow.TriggerContext, params: NewMailParams) -> None:
        self.ctx = ctx
        self.p = params
        self.last: tuple[Any, Any] | None = None  # (uidvalidity, last uid or seen keys)
        self.log = ctx.log.bind(
            trigger="email.new_mail", account=params.account, folder=params.folder
        )

    def check(self, box: Mailbox) -> None:
        """Fire for messages that arrived since the last check."""
        state = box.select(self.p.folder)
        if self.last is None or self.last[0] != state.uidvalidity:
            # First look (or a rebuilt folder): remember where it stands, fire nothing.
            self.last = (
                state.uidvalidity,
                box.new_messages(None)
                if box.kind == "maildir"
                else max(0, (state.uidnext or 1) - 1),
            )
            return
        new = box.new_messages(self.last[1])
        if not new:
            return
        if box.kind == "maildir":
            self.last = (state.uidvalidity, sorted(set(self.last[1]) | set(new)))
        else:
            self.last = (state.uidvalidity, max(new))
        self.log.info("new mail", count=len(new))
        self.ctx.fire(
            {
                "account": self.p.account,
                "folder": self.p.folder,
                "uids": list(new),
                "count": len(new),
            }
        )

    def idle(self, box: ImapMailbox) -> None:
        client = box.client
        with box.guard("IDLE"):
            client.idle()
        checked = time.monotonic()
        try:
            while not self.ctx.stopping.is_set():
                woke = time.monotonic()
                with box.guard("IDLE"):
                    responses = client.idle_check(timeout=1.0)
                arrived = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
                # Woken early with nothing to read: imapclient hides an EOF this way. Check now.
                suspicious = not responses and time.monotonic() - woke < 0.5
                if arrived or suspicious or time.monotonic() - checked > self.p.liveness:
                    with box.guard("IDLE"):
                        client.idle_done()
                        client.noop()  # liveness: raises if the connection is dead
                    self.check(box)
                    with box.guard("IDLE"):
                        client.idle()
                    checked = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                client.idle_done()

    def poll(self, box: Mailbox) -> None:
        while not self.ctx.stopping.wait(self.p.poll_interval):
            self.check(box)

    def run(self) -> None:
        from avflow_email.accounts import open_mailbox
        from avflow_email.imap import ImapMailbox

        delay = 1.0
        while not self.ctx.stopping.is_set():
            try:
                box = open_mailbox(self.ctx.account(self.p.account), self.ctx.client)
                try:
                    self.check(box)
                    delay = 1.0
                    if isinstance(box, ImapMailbox) and self.p.idle and "IDLE" in box.caps:
                        self.idle(box)
                    else:
                        self.poll(box)
                finally:
                    box.close()
            except avflow.StepFailed as exc:
                self.log.warning(
                    "mail watch interrupted; reconnecting", error=str(exc), delay=delay
                )
                self.ctx.stopping.wait(delay)
                delay = min(delay * 2, 300.0)


def watch(ctx: avflow.TriggerContext, params: NewMailParams) -> None:
    """Block until ``ctx.stopping`` is set, firing once per batch of new mail."""
    _Watch(ctx, params).run()
