"""Archive filing benchmark: 10,000 mail attachments into a local archive, vs cp + sha256sum.

Usage: .venv/bin/python bench/archive.py [--files 10000] [--trials 3] [--work DIR]

The attachments come from the triage corpus generator (``../shared/bench/make_corpus.py``): its
supplier invoices carry PDF attachments, with their sender, subject and date. They are written
once to ``WORK/corpus/`` with a manifest in the item shape the email plugin hands over.

Each trial, the two sides alternate (which goes first changes every trial):

- avflow: ``avflow trigger bench/file`` in a fresh home and an empty archive. Step one (a small
  plugin loaded with ``--plugins-dir``) hard-links the attachments into the run's spool, as the
  email plugin would have written them; step two is ``archive.file`` with the path template
  ``Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}``: SHA-256 of each file,
  content type sniffed, PDF text extraction attempted, rules, sanitising, one ledger effect per
  file, atomic write (temporary file, fsync, link, folder fsync), and the FTS5 index row.
- peer: ``cp -R`` of the same files into an empty folder, then ``sha256sum`` over the copies.
- durable peer (for context): a Python loop doing what avflow does to each file minus the
  bookkeeping: SHA-256, copy to a temporary file, fsync, link to its name, fsync the folder.
  The difference between it and avflow is the effect ledger, the audit trail and the index.

It prints the median wall time of each side and the ratio (goal: avflow at most 3x the peer).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS_GENERATOR = REPO.parent / "shared" / "bench" / "make_corpus.py"
AVFLOW = str(Path(sys.executable).parent / "avflow")

SOURCE_PLUGIN = '''
"""Bench helper: hands the corpus over as the email plugin would (files in the run's spool)."""
import json, os
from pathlib import Path

import avflow
from pydantic import BaseModel


class Params(BaseModel):
    manifest: str


def attachments(ctx, params):
    items = json.loads(Path(params.manifest).read_text())
    out = []
    for i, item in enumerate(items):
        folder = ctx.spool / "attachments" / str(i)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "payload"
        if not target.exists():
            os.link(item["path"], target)
        out.append({**item, "path": str(target)})
    return {"attachments": out}


@avflow.hookimpl
def register_actions(register):
    register(avflow.Action("benchsrc.attachments", Params, attachments))
'''


def make_corpus(work: Path, count: int) -> Path:
    """Write ``count`` attachments from the triage corpus generator; return the manifest."""
    corpus = work / "corpus"
    manifest = work / f"manifest-{count}.json"
    if manifest.exists():
        return manifest
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_GENERATOR)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {CORPUS_GENERATOR}")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    shutil.rmtree(corpus, ignore_errors=True)
    rnd = random.Random(42)
    items = []
    i = 0
    while len(items) < count:
        msg = gen.build(i, rnd)
        i += 1
        for part in msg.iter_attachments():
            n = len(items)
            path = corpus / f"{n // 1000:02d}" / f"{n:05d}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(part.get_payload(decode=True))
            items.append(
                {
                    "path": str(path),
                    "name": part.get_filename(),
                    "type": part.get_content_type(),
                    "size": path.stat().st_size,
                    "sender": str(msg["From"]),
                    "subject": str(msg["Subject"]),
                    "date": parsedate_to_datetime(str(msg["Date"])).isoformat(),
                    "message_id": str(msg["Message-ID"]),
                }
            )
            if len(items) == count:
                break
    manifest.write_text(json.dumps(items))
    print(f"corpus: {count} attachments from {i} generated messages in {corpus}")
    return manifest


def avflow_side(work: Path, manifest: Path, count: int) -> float:
    run = work / "avflow"
    shutil.rmtree(run, ignore_errors=True)
    workflows, home, archive, plugins = (
        run / "workflows",
        run / "home",
        run / "archive",
        run / "plugins",
    )
    for d in (workflows / "bench", home, archive, plugins):
        d.mkdir(parents=True)
    (plugins / "benchsrc.py").write_text(SOURCE_PLUGIN)
    (workflows / "bench" / "client.yaml").write_text(
        f"name: Bench\ntimezone: Europe/Rome\naccounts:\n  archive: {{ type: local, path: {archive} }}\n"
    )
    (workflows / "bench" / "file.yaml").write_text(
        "name: File attachments\nsteps:\n"
        f"  - {{ id: mail, uses: benchsrc.attachments, with: {{ manifest: {manifest} }} }}\n"
        "  - id: archive\n    uses: archive.file\n    with:\n      account: archive\n"
        '      files: "{{ steps.mail.outputs.attachments }}"\n'
        '      path: "Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}"\n'
    )
    cmd = [
        AVFLOW,
        "--plugins-dir",
        str(plugins),
        "--workflows",
        str(workflows),
        "--home",
        str(home),
        "--log-level",
        "warning",
        "trigger",
        "bench/file",
        "--json",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"avflow failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    counts = json.loads(proc.stdout)["outputs"]["archive"]["counts"]
    filed = sum(1 for _ in archive.rglob("*") if _.is_file())
    if sum(counts.values()) != count or filed != counts.get("filed", 0):
        sys.exit(f"avflow filed {counts}, archive holds {filed} files")
    return elapsed


def peer_side(work: Path, manifest: Path, count: int) -> float:
    dest = work / "peer"
    shutil.rmtree(dest, ignore_errors=True)
    src = work / "corpus"
    script = f'cp -R "{src}" "{dest}" && find "{dest}" -type f -print0 | xargs -0 sha256sum > "{work}/peer.sums"'
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True)
    elapsed = time.perf_counter() - t0
    lines = len((work / "peer.sums").read_text().splitlines())
    if lines != count:
        sys.exit(f"peer hashed {lines} files, expected {count}")
    return elapsed


def durable_peer_side(work: Path, manifest: Path, count: int) -> float:
    import hashlib

    dest = work / "durable"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    items = json.loads(manifest.read_text())
    t0 = time.perf_counter()
    for i, item in enumerate(items):
        src = item["path"]
        digest = hashlib.sha256()
        with open(src, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        folder = dest / f"{i // 1000:02d}"
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{i}.part"
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.link(tmp, folder / f"{i:05d}-{digest.hexdigest()[:8]}")
        tmp.unlink()
        fd = os.open(folder, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/avflow-bench-archive"))
    args = parser.parse_args()
    if not CORPUS_GENERATOR.exists():
        sys.exit(f"corpus generator not found: {CORPUS_GENERATOR}")
    args.work.mkdir(parents=True, exist_ok=True)
    manifest = make_corpus(args.work, args.files)
    sides = {
        "avflow archive.file": avflow_side,
        "cp + sha256sum": peer_side,
        "durable peer": durable_peer_side,
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for t in range(args.trials):
        order = list(sides) if t % 2 == 0 else list(reversed(sides))
        for name in order:
            os.sync()
            times[name].append(sides[name](args.work, manifest, args.files))
        print(f"trial {t + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in sides))
    a, p, d = (statistics.median(times[n]) for n in sides)
    print(f"\nfiling {args.files} attachments (median of {args.trials} alternating trials)")
    print(f"  avflow archive.file   {a:8.2f} s   {a / args.files * 1000:.2f} ms/file")
    print(f"  cp + sha256sum        {p:8.2f} s   {p / args.files * 1000:.2f} ms/file")
    print(f"  durable peer          {d:8.2f} s   {d / args.files * 1000:.2f} ms/file")
    print(f"  ratio avflow / cp + sha256sum   {a / p:6.2f} x   (goal: at most 3x)")
    print(f"  ratio avflow / durable peer     {a / d:6.2f} x")


if __name__ == "__main__":
    main()
