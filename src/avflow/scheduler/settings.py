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

The keys under ``notify:`` are notifier names; plugins supply notifiers (``email`` comes with the
email plugin, which also checks its ``to``, ``from`` and ``smtp`` keys).

``roots:`` grants clients folders outside their own (docs/security.md)::

    roots:
      acme: [/srv/scans/acme]

``dashboard:`` is the web dashboard the service serves (docs/dashboard.md)::

    dashboard:
      port: 8765               # 0: any free port (the URL is logged and kept in state.db)
      host: 127.0.0.1          # another address needs tls_cert and tls_key
      enabled: true
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from avflow.errors import ConfigError, ConfigErrors, Location
from avflow.models import Strict, parse_duration
from avflow.notifiers import Notifier


def _duration(v: Any) -> float:
    return parse_duration(v)


class Concurrency(Strict):
    max_runs: int = Field(default=4, ge=1)
    max_runs_per_client: int = Field(default=2, ge=1)


class DashboardSettings(Strict):
    """Where ``avflow run`` serves the dashboard (docs/dashboard.md)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tls_cert: str | None = None  # PEM files; required when host is not a loopback address
    tls_key: str | None = None

    def tls_problem(self) -> tuple[str, str] | None:
        """What is wrong with the TLS settings, as (the key to point at, one line), or None."""
        cert, key = self.tls_cert, self.tls_key
        if not is_loopback(self.host) and not (cert and key):
            return "host", (
                f"dashboard: listening on {self.host} needs dashboard.tls_cert and "
                "dashboard.tls_key in service.yaml (or host: 127.0.0.1)"
            )
        if bool(cert) != bool(key):
            missing = "tls_key" if cert else "tls_cert"
            return ("tls_cert" if cert else "tls_key"), (
                f"dashboard: give both dashboard.tls_cert and dashboard.tls_key ({missing} is missing)"
            )
        for name, value in (("tls_cert", cert), ("tls_key", key)):
            if value and not Path(value).expanduser().is_file():
                return name, f"dashboard.{name}: {Path(value).expanduser()}: no such file"
        return None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (IPv4 or IPv6, brackets allowed)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServiceSettings(Strict):
    """The settings of ``avflow run``."""

    concurrency: Concurrency = Field(default_factory=Concurrency)
    stop_timeout: float = Field(default=30.0, ge=0)
    heartbeat: float = Field(default=60.0, ge=1)
    # notifier name -> its settings, checked by that notifier's model (`configure_notifiers`)
    notify: dict[str, Any] = Field(default_factory=lambda: {})
    roots: dict[str, list[str]] = Field(
        default_factory=lambda: {}
    )  # client -> folders granted to it
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @field_validator("stop_timeout", "heartbeat", mode="before")
    @classmethod
    def _d(cls, v: Any) -> float:
        return _duration(v)


def load_settings(
    path: Path, required: bool = False, notifiers: Mapping[str, Notifier[Any]] | None = None
) -> ServiceSettings:
    """Read ``path``; a mistake is a `ConfigError` naming the file and line.

    With ``notifiers`` (the registry's), each ``notify:`` section is checked by its notifier here,
    so its errors name their line too.
    """
    from avflow.modelerrors import model_errors
    from avflow.yamlfile import read_doc

    if not path.exists():
        if required:
            raise ConfigError("service settings file does not exist", Location(path))
        return ServiceSettings()
    doc = read_doc(path)
    if doc.data is None:
        return ServiceSettings()
    if not isinstance(doc.data, dict):
        raise ConfigError(
            "service settings must be a mapping (concurrency:, notify:, ...)", Location(path, 1, 1)
        )
    try:
        settings = ServiceSettings.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigErrors(model_errors(exc, path, doc, [], ServiceSettings)) from None
    problem = settings.dashboard.tls_problem()
    if problem is not None:
        where, message = problem
        raise ConfigError(message, doc.locate(["dashboard", where]))
    if notifiers is not None:
        errors: list[ConfigError] = []
        for name, section in settings.notify.items():
            notifier = notifiers.get(name)
            if notifier is None:
                known = ", ".join(sorted(notifiers)) or "none installed"
                errors.append(
                    ConfigError(
                        f"notify.{name}: no plugin offers this notifier (known: {known})",
                        doc.locate(["notify", name]),
                    )
                )
                continue
            try:
                settings.notify[name] = notifier.settings_model.model_validate(section)
            except ValidationError as exc:
                errors += model_errors(exc, path, doc, ["notify", name], notifier.settings_model)
        if errors:
            raise ConfigErrors(errors)
    return settings
