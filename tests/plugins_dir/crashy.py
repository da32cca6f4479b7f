"""A loose test plugin (loaded with --plugins-dir): file-writing effects that can kill the process.

``crashy.write`` writes ``count`` files into ``folder``, one effect each (with ``batch: N``,
through an effect batch whose intents are committed N at a time). Every perform appends the
file's name to ``performed.log`` in that folder, so a test can count how often each effect really
happened. Environment variables make the process SIGKILL itself at chosen points:

- ``CRASHY_KILL_AFTER=k``: right after writing file k, before its outcome is recorded;
- ``CRASHY_KILL_BEFORE=k``: after effect k-1 is complete, before effect k starts;
- ``CRASHY_KILL_START=k``: inside effect k's perform, before it writes (its intent is recorded);
- ``CRASHY_KILL_END=<prefix>``: after the step's last effect, before the step's outputs are saved.

``crashy.send`` sends one "mail" (appends to ``sent.log``) through one effect whose first perform
can go wrong in the ways the effect ledger's outcome table lists (``mode``).

A ``dummy`` account type with a ``password`` lets the secret-leak test plant a secret.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

import avflow


class WriteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str
    count: int = 3
    prefix: str = "file"
    batch: int = 0  # >0: through ctx.effect_batch, intents committed this many at a time


def _kill_if(var: str, k: int) -> None:
    if os.environ.get(var) == str(k):
        os.kill(os.getpid(), signal.SIGKILL)


def write(ctx: avflow.StepContext, params: WriteParams) -> dict[str, Any]:
    if params.batch:
        names = [f"{params.prefix}{i}.txt" for i in range(1, params.count + 1)]
        plan = [(f"write:{n}", f"write {n}") for n in names]
        with ctx.effect_batch(plan, kind="crashy.write", chunk=params.batch) as batch:
            return _write(ctx, params, batch.effect)
    return _write(ctx, params, ctx.effect)


def _write(ctx: avflow.StepContext, params: WriteParams, effect: Any) -> dict[str, Any]:
    folder = Path(params.folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(1, params.count + 1):
        name = f"{params.prefix}{i}.txt"
        target = folder / name

        def perform(target: Path = target, name: str = name, i: int = i) -> str:
            _kill_if("CRASHY_KILL_START", i)
            target.write_text(f"{ctx.run.key} {name}\n")
            with open(folder / "performed.log", "a") as log:
                log.write(name + "\n")
                log.flush()
                os.fsync(log.fileno())
            _kill_if("CRASHY_KILL_AFTER", i)
            return name

        def reconcile(target: Path = target, name: str = name) -> str | None:
            return name if target.exists() else None

        _kill_if("CRASHY_KILL_BEFORE", i)
        effect(f"write:{name}", f"write {name}", perform, kind="crashy.write", reconcile=reconcile)
        written.append(name)
    if os.environ.get("CRASHY_KILL_END") == params.prefix:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"written": written}


class SendParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str
    name: str = "mail"
    # ok | refused (EffectFailed) | lost (sent, then TimeoutError) | unsent (TimeoutError, not sent)
    # | crash_after (sent, then the step fails outside the effect)
    mode: str = "ok"
    delay: float = 0.0  # seconds each perform takes (a slow server)
    reconcile: bool = False
    idempotent: bool = False


def send(ctx: avflow.StepContext, params: SendParams) -> dict[str, Any]:
    folder = Path(params.folder)
    folder.mkdir(parents=True, exist_ok=True)
    log, first = folder / "sent.log", folder / f"{params.name}.tried"

    def sent() -> list[str]:
        return log.read_text().split() if log.exists() else []

    def perform() -> str:
        once = not first.exists()
        first.touch()
        if once and params.mode == "refused":
            raise avflow.EffectFailed("550 mailbox unavailable")
        if once and params.mode == "unsent":
            raise TimeoutError("no answer from the server")
        time.sleep(params.delay)
        _kill_if("CRASHY_KILL_START", 1)
        with open(log, "a") as f:
            f.write(params.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        _kill_if("CRASHY_KILL_AFTER", 1)
        if once and params.mode == "lost":
            raise TimeoutError("the answer was lost")
        return params.name

    def reconcile() -> str | None:
        return params.name if params.name in sent() else None

    result = ctx.effect(
        f"send:{params.name}",
        f"send {params.name}",
        perform,
        kind="crashy.send",
        reconcile=reconcile if params.reconcile else None,
        idempotent=params.idempotent,
    )
    marker = folder / f"{params.name}.failed-after"
    if params.mode == "crash_after" and not marker.exists():
        marker.touch()
        raise RuntimeError("connection reset after sending")
    return {"sent": result}


class DummySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    password: str


class LeakParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: Annotated[str, avflow.AccountRef("dummy")]
    fail: bool = False


def leak(ctx: avflow.StepContext, params: LeakParams) -> dict[str, Any]:
    """Tries every way to write the account's password somewhere."""
    password = ctx.account(params.account).settings.password
    ctx.log.info("connecting", password=password, url=f"imap://u:{password}@host")
    ctx.note(f"logged in with {password}")
    ctx.effect("leak", f"send {password}", lambda: {"echo": password}, kind="crashy.leak")
    if params.fail:
        raise RuntimeError(f"login failed for password {password}")
    return {"password": password, "nested": [{"p": password}]}


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(avflow.Action("crashy.write", WriteParams, write, "Write files, one effect each."))
    register(avflow.Action("crashy.leak", LeakParams, leak, "Try to leak a secret."))
    register(avflow.Action("crashy.send", SendParams, send, "Send one mail, one effect."))


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(avflow.AccountType("dummy", DummySettings))
