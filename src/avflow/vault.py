"""The per-client encrypted vault behind ``${secret:NAME}``.

One file per client, ``$AVFLOW_HOME/vault/<client>.json``, maps secret names to Fernet tokens.
Names are readable (so `avflow validate` can check references without the key); values are
encrypted with a key derived for that client alone (HKDF over the master key with the client id),
so one client's token never decrypts as another's. The master key is ``$AVFLOW_VAULT_KEY`` or
``$AVFLOW_HOME/keys/vault.key`` (created, mode 0600, on first use).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from avflow import redact
from avflow.errors import SecretError
from avflow.fsutil import atomic_write

KEY_ENV = "AVFLOW_VAULT_KEY"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

if TYPE_CHECKING:  # cryptography is imported when a secret is first used, not with the service
    from cryptography.fernet import Fernet


class Vault:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / "vault"

    # -- keys ---------------------------------------------------------------------------------
    def _master(self, create: bool) -> bytes:
        env = os.environ.get(KEY_ENV)
        if env:
            try:
                raw = base64.urlsafe_b64decode(env.encode())
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise SecretError(f"{KEY_ENV} is not a vault key (32 bytes, url-safe base64)")
            return raw
        path = self.home / "keys" / "vault.key"
        if path.exists():
            return base64.urlsafe_b64decode(path.read_bytes().strip())
        if not create:
            raise SecretError(
                f"no vault key: set {KEY_ENV} or run 'avflow secrets set' first ({path})"
            )
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Fernet.generate_key()
        atomic_write(path, key + b"\n", mode=0o600)
        return base64.urlsafe_b64decode(key)

    def _fernet(self, client: str, create: bool = False) -> Fernet:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"avflow-vault:{client}".encode()
        )
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(self._master(create))))

    # -- file -----------------------------------------------------------------------------------
    def _path(self, client: str) -> Path:
        return self.dir / f"{client}.json"

    def _read(self, client: str) -> dict[str, str]:
        path = self._path(client)
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
            return dict(data["secrets"])
        except (ValueError, KeyError, TypeError):
            raise SecretError(f"{path}: vault file is damaged") from None

    def _write(self, client: str, secrets: dict[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = json.dumps(
            {"version": 1, "client": client, "secrets": secrets}, indent=2, sort_keys=True
        )
        atomic_write(self._path(client), body.encode() + b"\n", mode=0o600)

    # -- API ------------------------------------------------------------------------------------
    def names(self, client: str) -> list[str]:
        return sorted(self._read(client))

    def set(self, client: str, name: str, value: str) -> None:
        if not NAME_RE.match(name):
            raise SecretError(f"secret name {name!r} must be letters, digits, _ . or -")
        secrets = self._read(client)
        secrets[name] = self._fernet(client, create=True).encrypt(value.encode()).decode()
        self._write(client, secrets)

    def remove(self, client: str, name: str) -> bool:
        secrets = self._read(client)
        if name not in secrets:
            return False
        del secrets[name]
        self._write(client, secrets)
        return True

    def get(self, client: str, name: str) -> str:
        secrets = self._read(client)
        if name not in secrets:
            raise SecretError(
                f"client {client!r} has no secret {name!r} (avflow secrets set {client} {name})"
            )
        from cryptography.fernet import InvalidToken

        try:
            value = self._fernet(client).decrypt(secrets[name].encode()).decode()
        except InvalidToken:
            raise SecretError(
                f"secret {name!r} of client {client!r} cannot be decrypted with this vault key"
            ) from None
        redact.register(value)
        return value
