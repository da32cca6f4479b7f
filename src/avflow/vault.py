"""The per-client encrypted vault behind ``${secret:NAME}``.

One file per client, ``$AVFLOW_HOME/vault/<client>.json``, maps secret names to Fernet tokens.
Names are readable (so `avflow validate` can check references without the key); values are
encrypted with a key derived for that client alone (HKDF over the master key with the client id),
so one client's token never decrypts as another's. The master key is ``$AVFLOW_VAULT_KEY`` or
``$AVFLOW_HOME/keys/vault.key``, created (0600) only while no vault exists: a key that is missing,
empty or unreadable while vaults exist is an error, never a new key.

Writes hold an exclusive lock (``vault/.lock``) and replace the file atomically, so concurrent
``secrets set`` keep every secret. Each file records the id of the key its tokens are under;
`Vault.rotate` writes the new key beside the old one (``vault.key.new``), re-encrypts vault
after vault, then renames the new key over the old: interrupted anywhere, every vault is still
readable, and running it again finishes the rotation.

Where it fits among the layers: docs/architecture.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avflow.errors import SecretError
from avflow.fsutil import FileLock, atomic_write, fsync_dir, private_dir
from avflow.paths import client_id_problem

KEY_ENV = "AVFLOW_VAULT_KEY"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
MAX_NAME = 100  # characters of a secret's name
MAX_VALUE = 64 * 1024  # bytes of a secret's value (UTF-8): a token, a password, a PEM key
TOO_BIG = (
    f"the secret value is over {MAX_VALUE // 1024} KiB (a file given by mistake?): nothing stored"
)

if TYPE_CHECKING:  # cryptography is imported when a secret is first used, not with the service
    from cryptography.fernet import Fernet


def _decode_key(text: bytes, where: str) -> bytes:
    """32 raw bytes from url-safe base64, or a one-line `SecretError` naming ``where``."""
    text = text.strip()
    if not text:
        raise SecretError(
            f"{where} is empty: restore the vault key from your backup "
            "(a new key would leave every stored secret unreadable)"
        )
    try:
        raw = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecretError(f"{where} is not a vault key (32 bytes, url-safe base64)")
    return raw


def check_secret(name: str, value: str) -> None:
    """A `SecretError` for a name or a value the vault does not take (nothing is stored): a
    value over `MAX_VALUE` bytes or holding a NUL is a file given by mistake, not a secret."""
    if len(name) > MAX_NAME:
        raise SecretError(
            f"secret name {name[:20]!r}... is over {MAX_NAME} characters: nothing stored"
        )
    if not NAME_RE.fullmatch(name):
        raise SecretError(f"secret name {name!r} must be letters, digits, _ . or -")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE:
        raise SecretError(TOO_BIG)
    if "\x00" in value:
        raise SecretError(
            "the secret value holds a NUL byte (a binary file given by mistake?): nothing stored"
        )


def key_id(master: bytes) -> str:
    """A short public name of a master key (recorded in each vault file)."""
    return hashlib.sha256(b"avflow-vault-key-id:" + master).hexdigest()[:16]


class Vault:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / "vault"
        self.key_path = home / "keys" / "vault.key"
        self.pending_path = home / "keys" / "vault.key.new"

    # -- keys ---------------------------------------------------------------------------------
    def _vaults(self) -> list[Path]:
        try:
            return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))
        except OSError:
            return []

    def _read_key(self, path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretError(f"cannot read the vault key {path}: {exc.strerror or exc}") from None
        return _decode_key(data, f"vault key {path}")

    def _master(self, create: bool) -> bytes:
        env = os.environ.get(KEY_ENV)
        if env:
            return _decode_key(env.encode(), KEY_ENV)
        key = self._read_key(self.key_path)
        if key is not None:
            return key
        if self._vaults():
            raise SecretError(
                f"the vault key {self.key_path} is missing while client vaults exist in "
                f"{self.dir}: restore it from your backup or set {KEY_ENV} (no new key is made)"
            )
        if not create:
            raise SecretError(
                f"no vault key: set {KEY_ENV} or run 'avflow secrets set' first ({self.key_path})"
            )
        from cryptography.fernet import Fernet

        new = Fernet.generate_key()
        atomic_write(self.key_path, new + b"\n")
        return base64.urlsafe_b64decode(new)

    def _keys(self, create: bool = False) -> tuple[str, dict[str, bytes]]:
        """The current key's id, and every key a vault file may be under (a rotation's too)."""
        master = self._master(create)
        keys = {key_id(master): master}
        if not os.environ.get(KEY_ENV):
            pending = self._read_key(self.pending_path)
            if pending is not None:
                keys[key_id(pending)] = pending
        return key_id(master), keys

    @staticmethod
    def _fernet(client: str, master: bytes) -> Fernet:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"avflow-vault:{client}".encode()
        )
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(master)))

    # -- file -----------------------------------------------------------------------------------
    def _path(self, client: str) -> Path:
        problem = client_id_problem(client)
        if problem is not None:
            raise SecretError(problem)
        return self.dir / f"{client}.json"

    def _load(self, client: str) -> dict[str, Any]:
        path = self._path(client)
        try:
            data = json.loads(path.read_text())
            secrets = dict(data["secrets"])
        except FileNotFoundError:
            return {"secrets": {}}
        except (OSError, ValueError, KeyError, TypeError):
            raise SecretError(f"{path}: vault file is damaged or unreadable") from None
        return {"secrets": secrets, "key_id": data.get("key_id")}

    def _read(self, client: str) -> dict[str, str]:
        return dict(self._load(client)["secrets"])

    def _write(self, client: str, secrets: dict[str, str], kid: str | None) -> None:
        private_dir(self.dir)
        body = json.dumps(
            {"version": 2, "client": client, "key_id": kid, "secrets": secrets},
            indent=2,
            sort_keys=True,
        )
        atomic_write(self._path(client), body.encode() + b"\n")

    def _lock(self) -> FileLock:
        return FileLock(self.dir / ".lock")

    # -- API ------------------------------------------------------------------------------------
    def names(self, client: str) -> list[str]:
        return sorted(self._read(client))

    def set(self, client: str, name: str, value: str) -> None:
        check_secret(name, value)
        self._path(client)
        with self._lock():
            current, keys = self._keys(create=True)
            data = self._load(client)
            kid = data.get("key_id") or current if data["secrets"] else current
            if kid not in keys:
                raise SecretError(
                    f"the vault of client {client!r} is under another key than this one "
                    f"({KEY_ENV if os.environ.get(KEY_ENV) else self.key_path}): nothing stored"
                )
            data["secrets"][name] = self._fernet(client, keys[kid]).encrypt(value.encode()).decode()
            self._write(client, data["secrets"], kid)

    def remove(self, client: str, name: str) -> bool:
        self._path(client)
        with self._lock():
            data = self._load(client)
            if name not in data["secrets"]:
                return False
            del data["secrets"][name]
            self._write(client, data["secrets"], data.get("key_id"))
            return True

    def get(self, client: str, name: str) -> str:
        data = self._load(client)
        if name not in data["secrets"]:
            raise SecretError(
                f"client {client!r} has no secret {name!r} (avflow secrets set {client} {name})"
            )
        current, keys = self._keys()
        master = keys.get(data.get("key_id") or current)
        value = None if master is None else self._decrypt(client, master, data["secrets"][name])
        if value is None:
            raise SecretError(
                f"secret {name!r} of client {client!r} cannot be decrypted with this vault key"
            )
        from avflow import redact  # here: validate and next only list the names

        redact.register(value)
        return value

    def _decrypt(self, client: str, master: bytes, token: str) -> str | None:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet(client, master).decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    def rotate(self) -> int:
        """Re-encrypt every client's vault with a new key; the number of vaults re-encrypted."""
        if os.environ.get(KEY_ENV):
            raise SecretError(
                f"the vault key comes from {KEY_ENV}: rotate it where it is kept, not here"
            )
        with self._lock():
            current, keys = self._keys()
            pending = self._read_key(self.pending_path)
            if pending is None:  # a fresh rotation (else: finish the interrupted one)
                from cryptography.fernet import Fernet

                atomic_write(self.pending_path, Fernet.generate_key() + b"\n")
                pending = self._read_key(self.pending_path)
                assert pending is not None
            new_id = key_id(pending)
            keys[new_id] = pending
            done = sum(self._reencrypt(p.stem, current, keys, new_id) for p in self._vaults())
            os.replace(self.pending_path, self.key_path)
            fsync_dir(self.key_path.parent)
        return done

    def _reencrypt(self, client: str, current: str, keys: dict[str, bytes], new_id: str) -> int:
        if client_id_problem(client) is not None:
            return 0  # not a vault avflow wrote
        data = self._load(client)
        kid = data.get("key_id") or current
        if kid == new_id:
            return 1  # done before an interruption
        old = keys.get(kid)
        fresh = self._fernet(client, keys[new_id])
        secrets = {}
        for name, token in data["secrets"].items():
            value = None if old is None else self._decrypt(client, old, token)
            if value is None:
                raise SecretError(
                    f"secret {name!r} of client {client!r} cannot be decrypted with the current "
                    "vault key: rotation stopped, nothing lost (the old key is still in place)"
                )
            secrets[name] = fresh.encrypt(value.encode()).decode()
        self._write(client, secrets, new_id)
        return 1
