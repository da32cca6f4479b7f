"""A loose test plugin (loaded with --plugins-dir): pushes its account's password through every
output path avflow has, plain and escaped, so a test can check that none of it is written.

``canary.leak`` with ``fail: true`` raises with the password in its message instead of finishing.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

import avflow


class CanarySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    password: str


class LeakParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: Annotated[str, avflow.AccountRef("canary")]
    fail: bool = False


def escaped(secret: str) -> dict[str, str]:
    """The secret as plugins commonly write it."""
    return {
        "plain": secret,
        "repr": repr(secret),
        "json": json.dumps(secret),
        "json_utf8": json.dumps(secret, ensure_ascii=False),
        "url": f"https://host/login?p={quote(secret, safe='')}",
        "path": f"https://host/{quote(secret)}",
        "base64": base64.b64encode(secret.encode()).decode(),
        "basic": "Basic " + base64.b64encode(f"me:{secret}".encode()).decode(),
        "basic2": "Basic " + base64.b64encode(f"user:{secret}".encode()).decode(),
        "urlsafe": base64.urlsafe_b64encode(f"x{secret}".encode()).decode(),
    }


def leak(ctx: avflow.StepContext, params: LeakParams) -> dict[str, Any]:
    """Writes the account's password through keys, values, logs, notes, effects and cursors."""
    secret = ctx.account(params.account).settings.password
    forms = escaped(secret)
    ctx.log.info(f"connecting with {secret!r}", password=secret, forms=forms, **{secret: 1})
    ctx.log.warning("retrying", error=ValueError(f"bad password {secret!r}"))
    ctx.note(f"logged in with {forms['repr']} / {forms['json']}", **{"k" + secret: forms})
    for name, form in forms.items():
        ctx.effect(
            f"send:{name}:{form}",
            f"send {form}",
            lambda form=form: {form: form, "echo": [form]},
            kind=f"canary.{form}",
        )
    ctx.cursor.set(f"seen:{secret}", {"last": forms, secret: secret})
    ctx.cursor.set("plain", secret)
    if params.fail:
        raise RuntimeError(f"login failed for {secret!r}: {forms['json']} {forms['basic']}")
    return {secret: forms, "list": list(forms.values()), "nested": [{"p": forms}]}


@avflow.hookimpl
def register_actions(register: Any) -> None:
    register(avflow.Action("canary.leak", LeakParams, leak, "Try to leak a secret everywhere."))


@avflow.hookimpl
def register_account_types(register: Any) -> None:
    register(avflow.AccountType("canary", CanarySettings))
