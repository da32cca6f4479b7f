#!/usr/bin/env python3
"""Triage benchmark: avflow's email.triage against imapfilter on the same Dovecot mailbox.

usage: .venv/bin/python bench/triage.py [--messages 10000] [--trials 5] [--shared DIR]

Builds a Maildir with ../shared/bench/make_corpus.py, serves it with a private Dovecot (loopback,
plain IMAP), and runs the rules of ../shared/bench/triage.lua both ways on a freshly reset copy,
alternating which tool goes first. For each tool: a first pass (the unsorted mailbox) and a
repeat pass (the mailbox it just sorted). avflow is timed inside a warm process, from the run's
start to its finish, as the service runs it ("warm"), and as a whole process, `avflow trigger`
started from the shell ("cold": interpreter start, imports, reading the workflows, the run),
first and repeat pass, as imapfilter is. The three go in turn, the order rotating per trial.
Folder contents and flags are checked to be identical after every tool and pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "bench"
sys.path.insert(0, str(REPO / "plugins" / "avflow-email" / "tests"))

from dovecot import Dovecot  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

FOLDERS = ["Fatture", "Newsletter", "Appuntamenti", "Notifiche"]
EXPECTED_10K = {
    "Fatture": 1506,
    "Newsletter": 2993,
    "Appuntamenti": 987,
    "Notifiche": 1512,
    "INBOX": 3002,
}

CLIENT = """\
name: Bench
timezone: Europe/Rome
accounts:
  mail: {{ type: imap, host: 127.0.0.1, port: {port}, security: none, username: {user}, password: "${{env:BENCH_IMAP_PASSWORD}}" }}
"""

WORKFLOW = """\
name: Triage benchmark (the rules of triage.lua)
steps:
  - id: triage
    uses: email.triage
    with:
      account: mail
      folder: INBOX
      rules:
        - name: fatture
          match: { subject: Fattura }
          actions: [ { move: Fatture } ]
        - name: newsletter
          match: { header: { name: List-Unsubscribe, contains: "@" } }
          actions: [ { move: Newsletter } ]
        - name: appuntamenti
          match: { subject: { contains: [ appuntamento, call ] } }
          actions: [ flag, { move: Appuntamenti } ]
        - name: notifiche
          match: { from: { contains: [ linkedin.com, facebookmail.com, calendar-notification@google.com ] } }
          actions: [ mark_read, { move: Notifiche } ]
        - name: acme
          match: { from: "@cliente-acme.it" }
          actions: [ flag ]
"""


class Bench:
    def __init__(self, root: Path, messages: int, shared: Path = SHARED) -> None:
        self.root = root
        self.shared = shared
        self.dovecot = Dovecot(root / "dovecot", ssl=False)
        self.user = self.dovecot.new_user()
        self.live = self.dovecot.maildir(self.user)
        self.pristine = root / "pristine"
        self.workflows = root / "workflows"
        (self.workflows / "bench").mkdir(parents=True)
        (self.workflows / "bench" / "client.yaml").write_text(
            CLIENT.format(port=self.dovecot.port, user=self.user)
        )
        (self.workflows / "bench" / "triage.yaml").write_text(WORKFLOW)
        os.environ["BENCH_IMAP_PASSWORD"] = "secret"
        subprocess.run(
            [sys.executable, str(shared / "make_corpus.py"), str(self.pristine), str(messages)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for folder in FOLDERS:
            for sub in ("cur", "new", "tmp"):
                (self.pristine / f".{folder}" / sub).mkdir(parents=True, exist_ok=True)
            (self.pristine / f".{folder}" / "maildirfolder").touch()
        # Let Dovecot index the pristine copy once, so every trial starts from the same state.
        self.reset()
        c = self.client()
        for folder in ["INBOX", *FOLDERS]:
            c.subscribe_folder(folder)
            c.select_folder(folder, readonly=True)
        c.logout()
        shutil.rmtree(self.pristine)
        shutil.copytree(self.live, self.pristine, symlinks=True)

    def client(self) -> IMAPClient:
        c = IMAPClient("127.0.0.1", self.dovecot.port, ssl=False, timeout=120)
        c.login(self.user, "secret")
        return c

    def reset(self) -> None:
        shutil.rmtree(self.live, ignore_errors=True)
        shutil.copytree(self.pristine, self.live, symlinks=True)
        subprocess.run(
            ["chown", "-R", f"{self.dovecot.uid}:{self.dovecot.gid}", str(self.live)], check=True
        )

    def snapshot(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Folder -> sorted (Message-ID, flags): what must be identical after both tools."""
        c = self.client()
        out = {}
        for folder in ["INBOX", *FOLDERS]:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            rows = []
            if uids:
                data = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                for d in data.values():
                    raw = next(v for k, v in d.items() if k.startswith(b"BODY[HEADER"))
                    mid = raw.decode().split(":", 1)[1].strip()
                    flags = tuple(sorted(f.decode() for f in d[b"FLAGS"] if f != b"\\Recent"))
                    rows.append((mid, flags))
            out[folder] = sorted(rows)
        c.logout()
        return out

    # -- the two tools ----------------------------------------------------------------------------
    def imapfilter(self) -> float:
        env = {
            **os.environ,
            "IMAP_PORT": str(self.dovecot.port),
            "IMAP_USER": self.user,
            "IMAP_PASSWORD": "secret",
            "HOME": str(self.root / "imapfilter-home"),
        }
        (self.root / "imapfilter-home").mkdir(exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run(
            ["/usr/bin/imapfilter", "-c", str(self.shared / "triage.lua")],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        return time.perf_counter() - t0

    def avflow_app(self, home: Path):  # type: ignore[no-untyped-def]
        from avflow.app import App

        app = App(self.workflows, home, self.pm)
        app.project  # noqa: B018 - load the workflows before the clock starts, as the service has
        return app

    def avflow_run(self, app) -> float:  # type: ignore[no-untyped-def]
        wf = app.project.find("bench/triage")
        t0 = time.perf_counter()
        outcome = app.engine.trigger(wf)
        elapsed = time.perf_counter() - t0
        if outcome.status != "succeeded":
            raise SystemExit(f"avflow run failed: {outcome.error}")
        return elapsed

    def avflow_cold(self, home: Path) -> float:
        """One ``avflow trigger`` process, timed from its start to its exit."""
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "avflow"),
                "--workflows",
                str(self.workflows),
                "--home",
                str(home),
                "--log-level",
                "warning",
                "trigger",
                "bench/triage",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - t0

    def passes(self, tool: str, trial: int) -> tuple[float, float, Any]:
        """First and repeat pass of one tool on a freshly reset mailbox, and what it left."""
        self.reset()
        if tool == "avflow":
            app = self.avflow_app(self.root / f"home-{trial}")
            first, snap, repeat = self.avflow_run(app), self.snapshot(), self.avflow_run(app)
        elif tool == "cold":
            home = self.root / f"home-cold-{trial}"
            first, snap, repeat = self.avflow_cold(home), self.snapshot(), self.avflow_cold(home)
        else:
            first, snap, repeat = self.imapfilter(), self.snapshot(), self.imapfilter()
        if self.snapshot() != snap:
            raise SystemExit(f"the repeat pass of {tool} changed the sorted mailbox")
        return first, repeat, snap


def report(messages: int, counts: dict[str, int], times: dict[str, list[float]]) -> None:
    print(f"mailbox: {messages} messages; result: {counts}")
    if messages == 10000 and counts != EXPECTED_10K:
        print(f"WARNING: expected {EXPECTED_10K}")
    med = {k: statistics.median(v) for k, v in times.items()}

    def ms(v: float) -> str:
        return f"{v * 1000:.0f} ms"

    print(
        f"{'pass':<13}{'avflow warm':>13}{'avflow cold':>13}{'imapfilter':>12}"
        f"{'warm ratio':>12}{'cold ratio':>12}"
    )
    for label, n in (("first pass", 1), ("repeat pass", 2)):
        warm, cold, peer = med[f"avflow{n}"], med[f"cold{n}"], med[f"imapfilter{n}"]
        print(
            f"{label:<13}{ms(warm):>13}{ms(cold):>13}{ms(peer):>12}"
            f"{warm / peer:>12.2f}{cold / peer:>12.2f}"
        )
    print("warm: the run inside a running process; cold: the whole `avflow trigger` process")
    print(
        "trials (s): "
        + "; ".join(f"{k}=" + ",".join(f"{t:.3f}" for t in v) for k, v in times.items())
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument(
        "--shared", type=Path, default=SHARED, help="folder of make_corpus.py and triage.lua"
    )
    args = ap.parse_args()
    from avflow.app import configure_logging
    from avflow.plugins import PluginManager

    configure_logging("warning", json_logs=True)
    root = Path(tempfile.mkdtemp(prefix="avflow-bench-"))
    os.chmod(root, 0o755)
    bench = Bench(root, args.messages, args.shared)
    bench.pm = PluginManager()  # type: ignore[attr-defined]
    tools = ["avflow", "imapfilter", "cold"]
    times: dict[str, list[float]] = {f"{t}{n}": [] for t in tools for n in (1, 2)}
    try:
        # Warm the process up (imports, first connection) on an untimed run.
        bench.reset()
        bench.avflow_run(bench.avflow_app(root / "home-warmup"))
        reference = None
        for trial in range(args.trials):
            for tool in tools[trial % 3 :] + tools[: trial % 3]:
                first, repeat, snap = bench.passes(tool, trial)
                times[f"{tool}1"].append(first)
                times[f"{tool}2"].append(repeat)
                if reference is None:
                    reference = snap
                elif snap != reference:
                    diff = {
                        f: (len(snap[f]), len(reference[f]))
                        for f in snap
                        if snap[f] != reference[f]
                    }
                    raise SystemExit(f"folder contents differ after {tool}: {diff}")
        assert reference is not None
        report(args.messages, {f: len(rows) for f, rows in reference.items()}, times)
    finally:
        bench.dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
