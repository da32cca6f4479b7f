"""A loose test plugin for the audit tests: mail-like effects with subjects and addresses.

``demo.mail`` files ``count`` messages (one ``email.move`` effect each, described with the
message's subject in quotes and its sender's address, as the email plugin does) and, with
``reply: true``, sends a reply to each (``email.send``). ``fail_at`` makes that effect fail.
With ``mailbox: DIR`` each move is written to ``DIR/moved.log`` (and reconciled from it), and the
environment variable ``AUDITDEMO_KILL_AFTER=k`` SIGKILLs the process right after move k.
``demo.body`` tries to put a message body and a secret into the trail.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

import avflow


class MailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 2
    reply: bool = False
    fail_at: int = 0
    sender: str = "fornitore@example.com"
    mailbox: str | None = None


def mail(ctx: avflow.StepContext, params: MailParams) -> dict[str, Any]:
    moved = []
    for i in range(1, params.count + 1):
        subject = f"Fattura {i:03d}"

        def perform(i: int = i) -> dict[str, Any]:
            if i == params.fail_at:
                raise avflow.EffectFailed("IMAP server said NO")
            if params.mailbox:
                with open(Path(params.mailbox) / "moved.log", "a") as log:
                    log.write(f"{i}\n")
                if os.environ.get("AUDITDEMO_KILL_AFTER") == str(i):
                    os.kill(os.getpid(), signal.SIGKILL)
            return {"uid": i}

        def reconcile(i: int = i) -> dict[str, Any] | None:
            log = Path(params.mailbox or "/nonexistent") / "moved.log"
            done = log.exists() and str(i) in log.read_text().split()
            return {"uid": i} if done else None

        try:
            ctx.effect(
                f"move:{i}",
                f'move "{subject}" from {params.sender} to Fatture',
                perform,
                kind="email.move",
                reconcile=reconcile if params.mailbox else None,
            )
        except avflow.EffectFailed:
            continue
        moved.append(i)
        if params.reply:
            ctx.effect(
                f"reply:{params.sender}:{i}",
                f'reply to {params.sender} about "{subject}"',
                lambda: None,
                kind="email.send",
            )
    ctx.note(f"filed {len(moved)} messages", subject="Fattura 001", sender=params.sender)
    return {"moved": moved}


class BodyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str


def body(ctx: avflow.StepContext, params: BodyParams) -> dict[str, Any]:
    password = ctx.account(params.account).settings.password
    ctx.note(
        "read a message",
        body=f"Dear client, the password is {password}",
        html="<p>secret</p>",
        subject="Contract renewal",
        to=["mario.rossi@acme.example"],
    )
    return {}


class Filed(BaseModel):
    """What the notes of ``demo.mail`` hold: the plugin declares which fields are personal."""

    subject: Annotated[str, avflow.Personal]
    sender: str = Field(json_schema_extra={"personal": True})
    to: Annotated[list[str], avflow.Personal()] = []


class MailOutputs(BaseModel):
    moved: list[int]
    last: Filed | None = None


class DummySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(
        avflow.Action("demo.mail", MailParams, mail, "File messages (test).", outputs=MailOutputs)
    )
    register(avflow.Action("demo.body", BodyParams, body, "Try to record a body (test)."))


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(avflow.AccountType("demo", DummySettings))
