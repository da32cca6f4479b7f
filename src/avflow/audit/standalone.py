#!/usr/bin/env python3
"""verify_audit.py: check an avflow audit trail bundle with nothing but Python 3.9+.

Usage: python3 verify_audit.py BUNDLE_DIR [--pubkey KEY.pem] [--client ID]

Checks that every record's hash matches its bytes, that records follow each other (sequence
numbers and "prev" hashes), that none is missing at the start (unless a signed prune anchor says
where the kept records begin) or at the end (every signed checkpoint and the seal must name a
record that is there, with the same hash), and that every signature was made by the public key.
Prints OK and exits 0, or names the first bad record and exits 1.

This file is copied into each bundle by avflow (module ``avflow.audit.standalone``). It must keep
importing only the standard library. Ed25519 verification follows RFC 8032, section 6.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

# -- Ed25519 (RFC 8032 reference verification) -----------------------------------------------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _I % _P
    if (x * x - x2) % _P:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    A = (a[1] - a[0]) * (b[1] - b[0]) % _P
    B = (a[1] + a[0]) * (b[1] + b[0]) % _P
    C = 2 * a[3] * b[3] * _D % _P
    D = 2 * a[2] * b[2] % _P
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def _mul(s: int, pt: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _decompress(s: bytes) -> tuple[int, int, int, int] | None:
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0) or 0
_G = (_GX, _GY, 1, _GX * _GY % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    left, right = _mul(s, _G), _add(r, _mul(h, a))
    return (left[0] * right[2] - right[0] * left[2]) % _P == 0 and (
        left[1] * right[2] - right[1] * left[2]
    ) % _P == 0


def read_public_key(path: Path) -> bytes:
    """The raw 32 bytes of an Ed25519 public key in PEM (SubjectPublicKeyInfo)."""
    lines = [x.strip() for x in path.read_text().splitlines()]
    body = "".join(x for x in lines if x and not x.startswith("-----"))
    der = base64.b64decode(body)
    prefix = bytes.fromhex("302a300506032b6570032100")
    if len(der) != 44 or not der.startswith(prefix):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return der[12:]


# -- the trail ----------------------------------------------------------------------------------------
def _checkpoint_message(cp: dict) -> bytes:
    return f"avflow-audit-checkpoint/1\n{cp['client']}\n{cp['seq']}\n{cp['hash']}\n{cp['time']}\n{cp['kind']}\n".encode()


class _Bad(Exception):
    """The first thing wrong with the bundle, and how many records were good before it."""

    def __init__(self, message: str, count: int = 0) -> None:
        super().__init__(message)
        self.message, self.count = message, count


def verify(folder: Path, public: bytes, client: str | None = None) -> tuple[bool, str, int]:
    """``(ok, message, records)`` for the bundle in ``folder``."""
    records_dir = folder / "records" if (folder / "records").is_dir() else folder
    files = sorted(p for p in records_dir.glob("*.jsonl") if p.stem[:4].isdigit())
    if client is None and (folder / "manifest.json").exists():
        client = json.loads((folder / "manifest.json").read_text())["client"]
    try:
        checkpoints = _signed_checkpoints(folder, public, client)
        chain = _Chain(client, [cp for _, _, cp in checkpoints])
        for path in files:
            chain.read(path)
        for _, _, cp in checkpoints:
            if int(cp["seq"]) > chain.last_seq:
                raise _Bad(
                    f"record seq {chain.last_seq + 1} missing: the trail ends at seq "
                    f"{chain.last_seq} but a signed {cp['kind']} checkpoint names seq {cp['seq']}",
                    chain.count,
                )
        if chain.count and not checkpoints:
            raise _Bad("no signed checkpoint in the bundle", chain.count)
    except _Bad as bad:
        return False, bad.message, bad.count
    return (
        True,
        f"OK: {chain.count} records of client {chain.client!r}, "
        f"seq {chain.last_seq - chain.count + 1}..{chain.last_seq}, "
        f"{len(checkpoints)} signatures checked",
        chain.count,
    )


def _signed_checkpoints(folder: Path, public: bytes, client: str | None) -> list:
    """The bundle's checkpoints and seal as ``(file, line, checkpoint)``, each signature checked."""
    checkpoints = []
    cp_path = folder / "checkpoints.jsonl"
    if cp_path.exists():
        for n, line in enumerate(cp_path.read_bytes().splitlines(), 1):
            if line.strip():
                checkpoints.append(("checkpoints.jsonl", n, json.loads(line)))
    if (folder / "seal.json").exists():
        checkpoints.append(("seal.json", 1, json.loads((folder / "seal.json").read_bytes())))
    for source, n, cp in checkpoints:
        try:
            sig = base64.b64decode(cp["sig"])
        except ValueError:
            sig = b""
        if not ed25519_verify(public, _checkpoint_message(cp), sig):
            raise _Bad(f"{source}:{n}: checkpoint at seq {cp['seq']} is not signed by this key")
        if client is not None and cp["client"] != client:
            raise _Bad(f"{source}:{n}: checkpoint for client {cp['client']!r}, not {client!r}")
    return checkpoints


class _Chain:
    """The records read so far: each must match its hash and follow the one before it."""

    def __init__(self, client: str | None, checkpoints: list) -> None:
        self.client = client
        self.by_seq: dict = {}
        for cp in checkpoints:
            self.by_seq.setdefault(int(cp["seq"]), []).append(cp)
        self.anchors = {int(cp["seq"]): cp["hash"] for cp in checkpoints if cp["kind"] == "anchor"}
        self.last_seq, self.last_hash, self.count = 0, "0" * 64, 0

    def read(self, path: Path) -> None:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                self.record(raw, f"{path.name}:{n}")

    def record(self, raw: bytes, where: str) -> None:
        line = raw[:-1]
        if (
            not raw.endswith(b"\n")
            or line[-75:-66] != b',"hash":"'
            or line[-149:-140] != b',"prev":"'
        ):
            raise _Bad(f"{where}: not a complete audit record", self.count)
        rec = json.loads(line)
        seq, prev, own = int(rec["seq"]), line[-140:-76].decode(), line[-66:-2].decode()
        h = hashlib.sha256(line[:-75])
        h.update(b"}")
        if h.hexdigest() != own or rec["hash"] != own or rec["prev"] != prev:
            self.bad(f"{where}: record seq {seq} was edited: its hash does not match its content")
        if self.client is None:
            self.client = rec["client"]
        if rec["client"] != self.client:
            self.bad(f"{where}: record seq {seq} does not belong to client {self.client!r}")
        self.follows(seq, prev, where)
        for cp in self.by_seq.get(seq, []):
            if cp["hash"] != own:
                self.bad(
                    f"{where}: record seq {seq} differs from the signed {cp['kind']} checkpoint"
                )
        self.last_seq, self.last_hash, self.count = seq, own, self.count + 1

    def follows(self, seq: int, prev: str, where: str) -> None:
        """Record ``seq`` (linked to ``prev``) must come next in the chain."""
        if self.count == 0 and seq != 1:
            if self.anchors.get(seq - 1) != prev:
                self.bad(
                    f"{where}: the trail starts at record seq {seq}: "
                    f"records 1..{seq - 1} are missing"
                )
        elif self.count == 0 and prev != "0" * 64:
            self.bad(f"{where}: record seq 1 does not start the chain")
        elif self.count and seq != self.last_seq + 1:
            self.bad(
                f"{where}: record seq {seq} follows seq {self.last_seq}: "
                "records deleted, reordered or inserted"
            )
        elif self.count and prev != self.last_hash:
            self.bad(f"{where}: record seq {seq} does not chain to record seq {self.last_seq}")

    def bad(self, message: str) -> None:
        raise _Bad(message, self.count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check an avflow audit trail bundle.")
    parser.add_argument("folder", type=Path, help="the unzipped bundle")
    parser.add_argument("--pubkey", type=Path, help="the public key received from the assistant")
    parser.add_argument("--client", help="the client id the records must belong to")
    args = parser.parse_args(argv)
    key_path = args.pubkey or args.folder / "audit-ed25519.pub.pem"
    try:
        public = read_public_key(key_path)
        ok, message, _ = verify(args.folder, public, args.client)
    except (OSError, ValueError, KeyError) as exc:
        print(f"FAILED: {exc}")
        return 2
    if args.pubkey is None and ok:
        message += (
            " (with the key inside the bundle: pass --pubkey to check it is your assistant's)"
        )
    print(message if ok else f"FAILED: {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
