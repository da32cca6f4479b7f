"""A loose test plugin (loaded with --plugins-dir): file-writing effects that can kill the process.

``crashy.write`` writes ``count`` files into ``folder``, one effect each. Every perform appends the
file's name to ``performed.log`` in that folder, so a test can count how often each effect really
happened. Environment variables make the process SIGKILL itself at chosen points:

- ``CRASHY_KILL_AFTER=k``: right after writing file k, before its outcome is recorded;
- ``CRASHY_KILL_BEFORE=k``: after effect k-1 is complete, before effect k starts.

A ``dummy`` account type with a ``password`` lets the secret-leak test plant a secret.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

import avflow


class WriteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str
    count: int = 3
    prefix: str = "file"


def _kill_if(var: str, k: int) -> None:
    if os.environ.get(var) == str(k):
        os.kill(os.getpid(), signal.SIGKILL)


def write(ctx: avflow.StepContext, params: WriteParams) -> dict[str, Any]:
    folder = Path(params.folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(1, params.count + 1):
        name = f"{params.prefix}{i}.txt"
        target = folder / name

        def perform(target: Path = target, name: str = name, i: int = i) -> str:
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
        ctx.effect(
            f"write:{name}", f"write {name}", perform, kind="crashy.write", reconcile=reconcile
        )
        written.append(name)
    return {"written": written}


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


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(avflow.AccountType("dummy", DummySettings))
