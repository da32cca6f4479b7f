"""Benchmark: the content calendar of 50 clients, 2,000 queued posts, against a bare loop.

    .venv/bin/python bench/social.py [--clients 50] [--posts 40] [--trials 3]

Generates ``--clients`` clients with ``--posts`` approved posts each (Markdown with YAML front
matter, one file-outbox channel, some with media) and measures, in one process, alternating:

- queue: ``avflow social queue CLIENT --json`` for every client (parsing, approval state,
  problems) against a bare loop that reads every file and parses its front matter with PyYAML
  (libyaml);
- publish: one ``social.publish`` pass per client to the file outbox, run by the engine as the
  service runs it (every post is due: one ledger effect per post, audit records, the outbox
  file written atomically) against a bare loop
  that parses the same front matter and writes the same JSON files (no ledger, no audit, no
  fsync).

Prints the medians and avflow's ratio to the bare loop for each (goal: at most 2x), and beside
them the medians of the process's CPU time (on a shared machine the wall time moves with the
other work; the CPU time less so).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ is on the path when a script in it runs: its calendar.py must not hide the standard
# library's calendar module (http.cookiejar, under httpx, imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from avflow.clock import FakeClock  # noqa: E402
from avflow.testing import Harness  # noqa: E402

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
WORKFLOW = "steps:\n  - id: publish\n    uses: social.publish\n"


def generate(root: Path, clients: int, posts: int) -> list[str]:
    ids = []
    for c in range(clients):
        cid = f"client{c:03d}"
        ids.append(cid)
        folder = root / cid
        (folder / "posts" / "media").mkdir(parents=True)
        (folder / "client.yaml").write_text(
            f"name: Client {c}\ntimezone: Europe/Rome\naccounts:\n"
            "  social: { type: social_outbox, folder: data/outbox, max_chars: 500 }\n"
        )
        (folder / "publish.yaml").write_text(WORKFLOW)
        (folder / "posts" / "media" / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 2000)
        for p in range(posts):
            media = (
                "media:\n  - { file: media/img.png, alt: A photo of the shop }\n"
                if p % 4 == 0
                else ""
            )
            (folder / "posts" / f"post-{p:03d}.md").write_text(
                f"---\npublish: 2026-{1 + p % 12:02d}-{1 + p % 28:02d} {8 + p % 10:02d}:{p % 60:02d}\n"
                f"channels: [social]\nstatus: approved\ntitle: Post {p} of client {c}\n"
                f"tags: [news, week{p % 52}]\nlink: https://client{c}.example/p/{p}\n{media}"
                f"---\nThis is post {p} for client {c}: fresh news, **bold** words and a link.\n"
            )
    return ids


def bare_parse(root: Path, ids: list[str]) -> list[tuple[Path, dict, str]]:
    out = []
    for cid in ids:
        for path in sorted((root / cid / "posts").glob("*.md")):
            text = path.read_text()
            _, head, body = text.split("---\n", 2)
            out.append((path, yaml.load(head, Loader=LOADER), body.strip()))
    return out


def bare_publish(root: Path, ids: list[str]) -> None:
    for path, doc, body in bare_parse(root, ids):
        outbox = path.parents[1] / "data" / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        target = outbox / f"{path.stem}--social.r1.json"
        text = f"{body}\n\n{doc['link']}"
        data = {"key": f"{path.stem}:social:r1", "post": path.stem, "channel": "social",
                "publish_at": str(doc["publish"]), "text": text, "link": doc["link"],
                "title": doc.get("title"), "tags": doc.get("tags", []), "media": doc.get("media", [])}  # fmt: skip
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
        os.replace(tmp, target)


def avflow_queue(h: Harness, ids: list[str]) -> None:
    from avflow.cli import build_cli

    cli = build_cli(h.pm)
    runner = CliRunner()
    for cid in ids:
        args = ["--workflows", str(h.workflows), "--home", str(h.home), "--log-level", "error"]
        args += ["social", "queue", cid, "--json"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output


def avflow_publish(h: Harness, ids: list[str]) -> None:
    engine = h.app.engine  # as the service runs a workflow (Harness.run also reads the trail back)
    for cid in ids:
        outcome = engine.trigger(h.find(f"{cid}/publish"), trigger="manual")
        assert outcome.status == "succeeded", outcome.error


def trial(kind: str, which: str, base: Path, ids: list[str]) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-social-"))
    shutil.copytree(base, work / "workflows")
    h = Harness(work, clock=FakeClock())
    h.clock.set("2027-01-01T12:00:00+00:00")
    _ = h.app.project  # load the workflows before timing, as a running service has them
    start, cpu = time.perf_counter(), time.process_time()
    if which == "bare":
        (bare_parse if kind == "queue" else bare_publish)(work / "workflows", ids)
    else:
        (avflow_queue if kind == "queue" else avflow_publish)(h, ids)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if kind == "publish":
        written = len(list((work / "workflows").glob("*/data/outbox/*.json")))
        assert written == sum(len(list((base / c / "posts").glob("*.md"))) for c in ids), written
    shutil.rmtree(work)
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--posts", type=int, default=40)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--only", choices=["queue", "publish"], help="Measure only this.")
    args = ap.parse_args()
    from avflow.app import configure_logging

    configure_logging("error", True)  # a service logs to a file; here the terminal would dominate
    base = Path(tempfile.mkdtemp(prefix="bench-social-base-"))
    ids = generate(base, args.clients, args.posts)
    print(
        f"{args.clients} clients x {args.posts} posts = {args.clients * args.posts} posts, {args.trials} trials"
    )
    for kind in [args.only] if args.only else ["queue", "publish"]:
        times: dict[str, list[tuple[float, float]]] = {"avflow": [], "bare": []}
        for t in range(args.trials):
            order = ("avflow", "bare") if t % 2 == 0 else ("bare", "avflow")
            for which in order:
                times[which].append(trial(kind, which, base, ids))
        a, b = (statistics.median(w for w, _ in times[k]) for k in ("avflow", "bare"))
        ac, bc = (statistics.median(c for _, c in times[k]) for k in ("avflow", "bare"))
        print(
            f"{kind:8} avflow {a:7.2f} s   bare loop {b:7.2f} s   ratio {a / b:5.2f}x"
            f"   (CPU {ac:.2f} s / {bc:.2f} s = {ac / bc:.2f}x)"
        )
        sys.stdout.flush()
    shutil.rmtree(base)


if __name__ == "__main__":
    main()
