"""Archive filing benchmark: avflow against a minimal durable filer and cp + sha256sum.

Usage: .venv/bin/python bench/archive.py [--files 3000] [--trials 3] [--work DIR]

The corpus (written once to ``WORK/corpus-N/``, deterministic): 80% PDFs of 5-200 KB with one to
three pages of real text (PDFium reads it back) and a binary stream as a scan's image would be,
20% plain-text files of 5-50 KB; each with a sender, subject and date, as the email plugin hands
attachments over.

Each trial runs every side once, in an order that changes every trial:

- avflow, text not needed: ``avflow trigger`` in a fresh home and an empty archive. Step one (a
  small plugin loaded with ``--plugins-dir``) hard-links the files into the run's spool, as the
  email plugin would have written them (one folder, ``<message>+<n>-<name>``); step two is ``archive.file`` with the path template
  ``Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}`` and ``index_text: false``
  (no rule needs the text): SHA-256, content type sniffed, rules, sanitising, one ledger effect
  per batch of 64 files, atomic durable write of each (temporary file, fsync, link; one folder
  fsync per folder per batch) and the index rows (one transaction per batch).
- avflow, full-text index: the same with ``index_text: true`` (the default): the text of every
  PDF and text file is extracted (PDFium, first 50 pages) and indexed with FTS5.
- durable filer: a separate Python process doing what a careful minimal filer must: SHA-256,
  copy to a temporary file, fsync, link to its name, fsync the folder (and the parent of a
  folder it creates, as avflow does).
- cp + sha256sum: ``cp -R`` of the files, then ``sha256sum`` over the copies (no fsync at all).

Both avflow sides check the index afterwards: every document is there, with its text on the
full-text side and without any on the other (so neither side skips what it claims to do).
avflow's modules are compiled to bytecode first, as an installed package has them.

It prints the machine's load average before and after (the sides share its cores with whatever
else runs), the median wall time and the median CPU seconds (user + system, of the side's
processes) of each side, and the ratios of avflow's medians to the durable filer's
(goals: at most 1.5x with text not needed, at most 2.5x with the full-text index).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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
    folder = ctx.spool / "attachments"  # one folder, as the email plugin writes them
    folder.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(items):
        target = folder / f"{i}+001-payload"
        if not target.exists():
            os.link(item["path"], target)
        out.append({**item, "path": str(target)})
    return {"attachments": out}


@avflow.hookimpl
def register_actions(register):
    register(avflow.Action("benchsrc.attachments", Params, attachments))
'''

DURABLE_FILER = r"""
import hashlib, json, os, shutil, sys
from pathlib import Path

items = json.loads(Path(sys.argv[1]).read_text())
dest = Path(sys.argv[2])
for i, item in enumerate(items):
    src = item["path"]
    with open(src, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    folder = dest / f"{i // 1000:02d}"
    if not folder.is_dir():
        folder.mkdir()
        fd = os.open(dest, os.O_RDONLY)  # the new folder's name made durable, as avflow does
        os.fsync(fd)
        os.close(fd)
    tmp = folder / f".{i}.part"
    shutil.copyfile(src, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.link(tmp, folder / f"{i:05d}-{digest[:8]}")
    tmp.unlink()
    fd = os.open(folder, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
"""

WORDS = [
    "fattura",
    "importo",
    "totale",
    "iva",
    "imponibile",
    "scadenza",
    "pagamento",
    "bonifico",
    "fornitura",
    "energia",
    "contratto",
    "locazione",
    "canone",
    "cliente",
    "codice",
    "fiscale",
    "partita",
    "servizio",
    "periodo",
    "consumo",
    "euro",
    "invoice",
    "amount",
    "due",
    "date",
    "payment",
    "supply",
    "agreement",
    "rent",
    "customer",
    "tax",
    "service",
    "period",
]
SUPPLIERS = ["enel", "tim", "aruba", "fornitore-carta", "studio-legale", "acqua-spa"]


def _pdf(rnd: random.Random, size: int) -> bytes:
    """A valid PDF: 1-3 pages of text and a binary stream padding it to about ``size`` bytes."""
    pages = rnd.randint(1, 3)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * p} 0 R" for p in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font = 3 + 2 * pages
    for p in range(pages):
        lines = []
        for n in range(rnd.randint(20, 45)):
            words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 12)))
            lines.append(
                f"BT /F1 10 Tf 50 {760 - n * 15} Td ({words} {rnd.randint(1, 9999)}) Tj ET"
            )
        stream = "\n".join(lines).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * p} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pad = max(0, size - sum(len(o) for o in objects) - 600)
    image = rnd.randbytes(pad)
    objects.append(
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height %d /BitsPerComponent 8 "
        b"/ColorSpace /DeviceGray /Length %d >>\nstream\n"
        % (max(1, pad), pad)
        + image
        + b"\nendstream"
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_corpus(work: Path, count: int) -> Path:
    """Write ``count`` files (see the module docstring); return the manifest."""
    corpus = work / f"corpus-{count}"
    manifest = work / f"manifest-{count}.json"
    if manifest.exists():
        return manifest
    shutil.rmtree(corpus, ignore_errors=True)
    rnd = random.Random(42)
    items = []
    for n in range(count):
        sup = rnd.choice(SUPPLIERS)
        path = corpus / f"{n // 1000:02d}" / f"{n:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if rnd.random() < 0.8:
            data, name, mime = _pdf(rnd, rnd.randint(5, 200) << 10), f"fattura_{n}.pdf", "pdf"
        else:
            words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 50) * 150))
            data, name, mime = words.encode()[: rnd.randint(5, 50) << 10], f"nota_{n}.txt", "txt"
        path.write_bytes(data)
        day = 1 + n % 28
        items.append(
            {
                "path": str(path),
                "name": name,
                "type": "application/pdf" if mime == "pdf" else "text/plain",
                "size": len(data),
                "sender": f"Amministrazione {sup} <fatture@{sup}.it>",
                "subject": f"Fattura n. {rnd.randint(100, 9999)}/2026 - {sup}",
                "date": f"2026-03-{day:02d}T10:00:00+00:00",
                "message_id": f"<bench-{n}@{sup}.it>",
            }
        )
    manifest.write_text(json.dumps(items))
    print(f"corpus: {count} files ({sum(i['size'] for i in items) >> 20} MB) in {corpus}")
    return manifest


def _timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; its wall time, its CPU seconds (user + system) and its result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def avflow_side(index_text: bool) -> Callable[[Path, Path, int], tuple[float, float]]:
    def side(work: Path, manifest: Path, count: int) -> tuple[float, float]:
        run = work / "avflow"
        shutil.rmtree(run, ignore_errors=True)
        workflows, home, archive, plugins = (
            run / n for n in ("workflows", "home", "archive", "plugins")
        )
        for d in (workflows / "bench", home, archive, plugins):
            d.mkdir(parents=True)
        (plugins / "benchsrc.py").write_text(SOURCE_PLUGIN)
        (workflows / "bench" / "client.yaml").write_text(
            f"name: Bench\ntimezone: Europe/Rome\nroots: [{archive}]\n"
            f"accounts:\n  archive: {{ type: local, path: {archive} }}\n"
        )
        (workflows / "bench" / "file.yaml").write_text(
            "name: File attachments\nsteps:\n"
            f"  - {{ id: mail, uses: benchsrc.attachments, with: {{ manifest: {manifest} }} }}\n"
            "  - id: archive\n    uses: archive.file\n    timeout: 3600\n    with:\n"
            "      account: archive\n"
            f"      index_text: {'true' if index_text else 'false'}\n"
            '      files: "{{ steps.mail.outputs.attachments }}"\n'
            '      path: "Fatture/{{ file.year }}/{{ file.sender_domain }}/{{ file.name }}"\n'
        )
        cmd = [AVFLOW, "--plugins-dir", str(plugins), "--workflows", str(workflows)]
        cmd += ["--home", str(home), "--log-level", "warning", "trigger", "bench/file", "--json"]
        wall, cpu, proc = _timed(cmd)
        if proc.returncode != 0:
            sys.exit(f"avflow failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        counts = json.loads(proc.stdout)["outputs"]["archive"]["counts"]
        filed = sum(1 for p in archive.rglob("*") if p.is_file())
        if counts != {"filed": count} or filed != count:
            sys.exit(f"avflow filed {counts}, archive holds {filed} files")
        _check_index(home, count, index_text)
        return wall, cpu

    return side


def _check_index(home: Path, count: int, index_text: bool) -> None:
    """Every document is in the index; with text, every one's text (each file of the corpus
    has some); without, none (so that side really extracted nothing)."""
    import sqlite3

    db = sqlite3.connect(home / "plugins" / "archive" / "index.db")
    (rows,) = db.execute("SELECT count(*) FROM documents").fetchone()
    (texts,) = db.execute("SELECT count(*) FROM documents_fts WHERE length(text) > 0").fetchone()
    (hits,) = db.execute(
        "SELECT count(*) FROM documents_fts WHERE documents_fts MATCH 'text:imponibile'"
    ).fetchone()
    db.close()
    if rows != count:
        sys.exit(f"the index holds {rows} documents, expected {count}")
    if index_text and (texts != count or hits == 0):
        sys.exit(f"the full-text side indexed the text of {texts} of {count} documents")
    if not index_text and texts:
        sys.exit(f"the side without text indexed the text of {texts} documents")


def compile_avflow() -> None:
    """Compile avflow's own modules to bytecode, as an installed package has them.

    An editable install run with PYTHONDONTWRITEBYTECODE set (some environments set it) would
    otherwise compile about 125 modules from source in every avflow process: a cost no
    installed avflow pays, and not part of filing.
    """
    dirs = [REPO / "src", *sorted(REPO.glob("plugins/*/src"))]
    dirs += [p for p in (REPO / "tests" / "sample-plugin").glob("src") if p.is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, dirs)], check=True)


def durable_side(work: Path, manifest: Path, count: int) -> tuple[float, float]:
    dest = work / "durable"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    wall, cpu, proc = _timed([sys.executable, "-c", DURABLE_FILER, str(manifest), str(dest)])
    if proc.returncode != 0:
        sys.exit(f"durable filer failed: {proc.stderr[-2000:]}")
    filed = sum(1 for p in dest.rglob("*") if p.is_file())
    if filed != count:
        sys.exit(f"durable filer filed {filed} files, expected {count}")
    return wall, cpu


def cp_side(work: Path, manifest: Path, count: int) -> tuple[float, float]:
    dest = work / "peer"
    shutil.rmtree(dest, ignore_errors=True)
    src = work / f"corpus-{count}"
    script = (
        f'cp -R "{src}" "{dest}" && find "{dest}" -type f -print0 '
        f'| xargs -0 sha256sum > "{work}/peer.sums"'
    )
    wall, cpu, _ = _timed(["sh", "-c", script])
    lines = len((work / "peer.sums").read_text().splitlines())
    if lines != count:
        sys.exit(f"cp + sha256sum hashed {lines} files, expected {count}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/avflow-bench-archive"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    manifest = make_corpus(args.work, args.files)
    compile_avflow()
    sides = {
        "avflow, text not needed": avflow_side(index_text=False),
        "avflow, full-text index": avflow_side(index_text=True),
        "durable filer": durable_side,
        "cp + sha256sum": cp_side,
    }
    load_before = os.getloadavg()
    wall: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for t in range(args.trials):
        order = names[t % len(names) :] + names[: t % len(names)]
        for name in order if t % 2 == 0 else reversed(order):
            os.sync()
            w, c = sides[name](args.work, manifest, args.files)
            wall[name].append(w)
            cpu[name].append(c)
        print(f"trial {t + 1}: " + ", ".join(f"{n} {wall[n][-1]:.2f}s" for n in names))
    med = {n: statistics.median(wall[n]) for n in names}
    medcpu = {n: statistics.median(cpu[n]) for n in names}
    load = ", ".join(f"{a:.2f}" for a in load_before)
    after = ", ".join(f"{a:.2f}" for a in os.getloadavg())
    print(f"\nfiling {args.files} files (medians of {args.trials} alternating trials)")
    print(f"  load average (1, 5, 15 min): {load} before, {after} after")
    for n in names:
        print(
            f"  {n:26s} {med[n]:8.2f} s wall  {medcpu[n]:8.2f} s CPU"
            f"  {med[n] / args.files * 1000:6.2f} ms/file"
        )
    d = med["durable filer"]
    dc = medcpu["durable filer"]
    for n, goal in (("avflow, text not needed", 1.5), ("avflow, full-text index", 2.5)):
        print(
            f"  {n} / durable filer: {med[n] / d:5.2f}x wall (goal: at most {goal}x), "
            f"{medcpu[n] / dc:5.2f}x CPU"
        )
    for n in ("avflow, text not needed", "avflow, full-text index"):
        print(f"  {n} / cp + sha256sum: {med[n] / med['cp + sha256sum']:5.2f}x wall")


if __name__ == "__main__":
    main()
