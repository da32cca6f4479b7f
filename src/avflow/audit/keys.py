"""The Ed25519 key that signs audit checkpoints.

One key per home folder, made on first use: ``$AVFLOW_HOME/keys/audit-ed25519.pem`` (private,
mode 0600), or the file ``AVFLOW_AUDIT_KEY`` names outside the home folder, with its public half
in ``$AVFLOW_HOME/keys/audit-ed25519.pub.pem``. The public key is what the
AV hands to her clients (``avflow audit pubkey``): with it, a client checks the signatures without
trusting anything in the AV's home folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from avflow.errors import UsageError
from avflow.fsutil import FileLock, atomic_write

KEY_ENV = "AVFLOW_AUDIT_KEY"  # a signing key outside the home folder (docs/audit.md)
PRIVATE_NAME = "audit-ed25519.pem"
PUBLIC_NAME = "audit-ed25519.pub.pem"

if TYPE_CHECKING:  # cryptography is imported when a key is first used, not with the service
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )


def fingerprint(public: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 over its raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public(path: Path) -> Ed25519PublicKey:
    """Read a public key file (PEM, as ``avflow audit pubkey`` writes it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the public key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise UsageError(f"{path}:1: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}:1: not an Ed25519 public key")
    return key


def check(public: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


class AuditKey:
    """The signing key (created on first use): ``$AVFLOW_HOME/keys/audit-ed25519.pem``, or the
    file ``AVFLOW_AUDIT_KEY`` names, outside the home folder, so that someone holding only the
    home folder cannot sign. Its public half is written beside the trail for convenience only:
    with a configured key, nothing in the home folder is trusted to check signatures."""

    def __init__(self, home: Path, path: Path | None = None) -> None:
        env = os.environ.get(KEY_ENV)
        self.configured = path or (Path(env).expanduser() if env else None)
        self.home = home
        self.public_path = home / "keys" / PUBLIC_NAME
        self.private_path = self.configured or home / "keys" / PRIVATE_NAME
        self.dir = self.private_path.parent
        self._private: Ed25519PrivateKey | None = None
        self._fingerprint: str | None = None

    def exists(self) -> bool:
        return self.private_path.exists()

    def private(self) -> Ed25519PrivateKey:
        if self._private is None:
            if not self.private_path.exists():
                with FileLock(self.home / "keys" / ".audit-key.lock"):
                    if not self.private_path.exists():
                        self._refuse_to_replace()
                        self._create()
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            try:
                key = serialization.load_pem_private_key(
                    self.private_path.read_bytes(), password=None
                )
            except (OSError, ValueError, TypeError):
                raise UsageError(
                    f"{self.private_path}: cannot read the audit signing key"
                ) from None
            if not isinstance(key, Ed25519PrivateKey):
                raise UsageError(f"{self.private_path}: not an Ed25519 private key")
            self._private = key
        return self._private

    def _refuse_to_replace(self) -> None:
        """A missing key while signed trails exist is an error, never a new key: a new key would
        make every client's check of the next bundle fail, and hide what happened to the old."""
        signed = sorted((self.home / "audit").glob("*/checkpoints.jsonl"))
        if signed:
            raise UsageError(
                f"the audit signing key {self.private_path} is missing, but trails signed with it "
                f"exist ({signed[0].parent}): restore the key (or set {KEY_ENV} to where it is)"
            )
        if self.configured is not None and not self.dir.is_dir():
            raise UsageError(f"{KEY_ENV}={self.configured}: folder {self.dir} does not exist")

    def _create(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.public_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.public_path, public_pem(key.public_key()))  # 0600, as all of home
        atomic_write(self.private_path, pem)

    def public(self) -> Ed25519PublicKey:
        """The public key: from the private key when there is one, else from the .pub file
        beside the trail (never when a key outside the home folder is configured)."""
        if self.private_path.exists():
            return self.private().public_key()
        if self.configured is not None:
            raise UsageError(
                f"{KEY_ENV}={self.configured}: no such key file (pass --pubkey to check with a copy)"
            )
        if self.public_path.exists():
            return load_public(self.public_path)
        raise UsageError(
            f"no audit key in {self.dir}: nothing has been recorded with this home folder yet"
        )

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private().sign(message)).decode()

    def signing_fingerprint(self) -> str:
        """The fingerprint of the key `sign` uses (creating the key on first use)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.private().public_key())
        return self._fingerprint
