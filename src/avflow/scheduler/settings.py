"""``$AVFLOW_HOME/service.yaml``: how the service runs (limits, stop timeout, failure e-mails).

Every key is optional; the file itself is optional. Example::

    concurrency:
      max_runs: 4              # runs at once, all clients together
      max_runs_per_client: 2   # runs at once for one client
    stop_timeout: 30s          # on SIGTERM, how long running runs may take to finish
    heartbeat: 60s
    notify:
      email:
        to: [ava@example.com]
        from: avflow@example.com
        smtp: { host: smtp.example.com, port: 587, security: starttls,
                username: ava, password: "${env:AVFLOW_SMTP_PASSWORD}" }
        batch: 60s             # failures within this window go out in one message
        repeat: 0              # remind about a workflow still failing after this long (0: never)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from avflow.errors import ConfigError, ConfigErrors, Location
from avflow.models import Strict, parse_duration

ENV_RE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


def _duration(v: Any) -> float:
    return parse_duration(v)


class Concurrency(Strict):
    max_runs: int = Field(default=4, ge=1)
    max_runs_per_client: int = Field(default=2, ge=1)


class Smtp(Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @field_validator("password")
    @classmethod
    def _password(cls, v: str | None) -> str | None:
        if v is not None and not ENV_RE.match(v):
            raise ValueError('write the password as "${env:NAME}" and set NAME in the environment')
        return v

    def resolved_password(self) -> str | None:
        if self.password is None:
            return None
        m = ENV_RE.match(self.password)
        assert m is not None
        return os.environ.get(m.group(1))


class EmailNotify(Strict):
    to: list[str] = Field(default_factory=list)
    from_: str = Field(default="avflow@localhost", alias="from")
    smtp: Smtp
    batch: float = Field(default=60.0, ge=0)
    repeat: float = Field(default=0.0, ge=0)

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("batch", "repeat", mode="before")
    @classmethod
    def _d(cls, v: Any) -> float:
        return _duration(v)


class NotifySettings(Strict):
    email: EmailNotify | None = None


class ServiceSettings(Strict):
    """The settings of ``avflow run``."""

    concurrency: Concurrency = Field(default_factory=Concurrency)
    stop_timeout: float = Field(default=30.0, ge=0)
    heartbeat: float = Field(default=60.0, ge=1)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @field_validator("stop_timeout", "heartbeat", mode="before")
    @classmethod
    def _d(cls, v: Any) -> float:
        return _duration(v)


def load_settings(path: Path, required: bool = False) -> ServiceSettings:
    """Read ``path``; a mistake is a `ConfigError` naming the file and line."""
    from avflow.loader import _model_errors
    from avflow.yamlfile import load_yaml, plain

    if not path.exists():
        if required:
            raise ConfigError("service settings file does not exist", Location(path))
        return ServiceSettings()
    raw = load_yaml(path)
    if raw is None:
        return ServiceSettings()
    if not isinstance(raw, dict):
        raise ConfigError(
            "service settings must be a mapping (concurrency:, notify:, ...)", Location(path, 1, 1)
        )
    try:
        return ServiceSettings.model_validate(plain(raw))
    except ValidationError as exc:
        raise ConfigErrors(_model_errors(exc, path, raw, [], ServiceSettings)) from None
