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


def verify(folder: Path, public: bytes, client: str | None = None) -> tuple[bool, str, int]:
    """``(ok, message, records)`` for the bundle in ``folder``."""
    records_dir = folder / "records" if (folder / "records").is_dir() else folder
    files = sorted(p for p in records_dir.glob("*.jsonl") if p.stem[:4].isdigit())
    if client is None and (folder / "manifest.json").exists():
        client = json.loads((folder / "manifest.json").read_text())["client"]
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
            return (
                False,
                f"{source}:{n}: checkpoint at seq {cp['seq']} is not signed by this key",
                0,
            )
        if client is not None and cp["client"] != client:
            return False, f"{source}:{n}: checkpoint for client {cp['client']!r}, not {client!r}", 0
    by_seq: dict[int, list[dict]] = {}
    for _, _, cp in checkpoints:
        by_seq.setdefault(int(cp["seq"]), []).append(cp)
    anchors = {int(cp["seq"]): cp["hash"] for _, _, cp in checkpoints if cp["kind"] == "anchor"}
    last_seq, last_hash, count = 0, "0" * 64, 0
    for path in files:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                where = f"{path.name}:{n}"
                line = raw[:-1]
                if (
                    not raw.endswith(b"\n")
                    or line[-75:-66] != b',"hash":"'
                    or line[-149:-140] != b',"prev":"'
                ):
                    return False, f"{where}: not a complete audit record", count
                rec = json.loads(line)
                seq, prev, own = int(rec["seq"]), line[-140:-76].decode(), line[-66:-2].decode()
                h = hashlib.sha256(line[:-75])
                h.update(b"}")
                if h.hexdigest() != own or rec["hash"] != own or rec["prev"] != prev:
                    return (
                        False,
                        f"{where}: record seq {seq} was edited: its hash does not match its content",
                        count,
                    )
                if client is None:
                    client = rec["client"]
                if rec["client"] != client:
                    return (
                        False,
                        f"{where}: record seq {seq} does not belong to client {client!r}",
                        count,
                    )
                if count == 0 and seq != 1:
                    if anchors.get(seq - 1) != prev:
                        return (
                            False,
                            f"{where}: the trail starts at record seq {seq}: records 1..{seq - 1} are missing",
                            count,
                        )
                elif count == 0 and prev != "0" * 64:
                    return False, f"{where}: record seq 1 does not start the chain", count
                elif count and seq != last_seq + 1:
                    return (
                        False,
                        f"{where}: record seq {seq} follows seq {last_seq}: records deleted, reordered or inserted",
                        count,
                    )
                elif count and prev != last_hash:
                    return (
                        False,
                        f"{where}: record seq {seq} does not chain to record seq {last_seq}",
                        count,
                    )
                for cp in by_seq.get(seq, []):
                    if cp["hash"] != own:
                        return (
                            False,
                            f"{where}: record seq {seq} differs from the signed {cp['kind']} checkpoint",
                            count,
                        )
                last_seq, last_hash, count = seq, own, count + 1
    for _, _, cp in checkpoints:
        if int(cp["seq"]) > last_seq:
            return (
                False,
                (
                    f"record seq {last_seq + 1} missing: the trail ends at seq {last_seq} but a signed "
                    f"{cp['kind']} checkpoint names seq {cp['seq']}"
                ),
                count,
            )
    if count and not checkpoints:
        return False, "no signed checkpoint in the bundle", count
    return (
        True,
        f"OK: {count} records of client {client!r}, seq {last_seq - count + 1}..{last_seq}, "
        f"{len(checkpoints)} signatures checked",
        count,
    )


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
