"""Audit trail benchmark: append cost and verify time, side by side with a plain peer.

Usage: .venv/bin/python bench/audit.py [--records 1000000] [--trials 3] [--sample 50000] [--effects 300]

Figures (medians over trials; the two sides of each comparison alternate, trial by trial):

1. per-effect cost inside a run: a workflow performing ``--effects`` effects through the real
   engine and effect ledger, with avflow's audit trail vs a trail that records nothing. The
   difference is what the audit trail adds to each effect (goal: under 1 ms).
2. append: ``AuditTrail.record`` vs the peer, a plain loop that appends ``json.dumps(record,
   sort_keys=True)`` lines chained with ``hashlib.sha256`` to an open file.
3. verify of ``--records`` records (goal: under 5 s): ``avflow.audit.verify.verify_trail`` vs the
   peer's loop (``json.loads`` each line, re-serialise, re-hash, compare) over its own file of the
   same records, and vs ``sha256sum`` over avflow's record files (reading and hashing only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import avflow
from avflow.app import App, configure_logging
from avflow.audit import AuditTrail
from avflow.audit.verify import verify_trail
from avflow.clock import FakeClock
from avflow.plugins import PluginManager
from avflow.state import State

DESCRIPTION = 'move "Fattura {i}" from fornitore@example.com to Fatture'


def alternate(trials: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each side once per trial, in turn, so drift in the machine hits both alike."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for t in range(trials):
        order = list(sides) if t % 2 == 0 else list(reversed(sides))
        for name in order:
            out[name].append(sides[name]())
    return out


def show(title: str, results: dict[str, list[float]], unit: str, scale: float = 1.0) -> None:
    names = list(results)
    base = statistics.median(results[names[0]])
    print(f"\n{title}")
    for name in names:
        med = statistics.median(results[name])
        runs = ", ".join(f"{x * scale:.3f}" for x in results[name])
        ratio = "" if name == names[0] else f"   avflow/peer = {base / med:.2f}"
        print(f"  {name:38} median {med * scale:10.3f} {unit}   (trials: {runs}){ratio}")


# -- 1. per effect, in a run ------------------------------------------------------------------------
class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int


def _noop_effects(ctx: avflow.StepContext, params: NoopParams) -> dict[str, Any]:
    for i in range(params.count):
        ctx.effect(f"e{i}", DESCRIPTION.format(i=i), lambda: None, kind="email.move")
    return {}


class _Plugin:
    @avflow.hookimpl
    def register_actions(self, register: Any) -> None:
        register(avflow.Action("bench.effects", NoopParams, _noop_effects, "No-op effects."))


class NullTrail(AuditTrail):
    """Records nothing: the baseline for what the trail adds to a run."""

    def record(self, client: str, event: str, **kw: Any) -> dict[str, Any]:
        return {}

    def sync(self) -> None:
        pass


def run_cost(root: Path, effects: int, null: bool) -> float:
    """Seconds per effect for one run of ``effects`` no-op effects."""
    home = Path(tempfile.mkdtemp(dir=root))
    wf = home / "workflows" / "acme"
    wf.mkdir(parents=True)
    (wf / "client.yaml").write_text("name: Acme\ntimezone: Europe/Rome\n")
    (wf / "bench.yaml").write_text(
        f"steps:\n  - uses: bench.effects\n    with: {{count: {effects}}}\n"
    )
    app = App(
        home / "workflows",
        home / "home",
        PluginManager(autoload=False, extra=[("bench", _Plugin())]),
    )
    if null:
        app.__dict__["audit"] = NullTrail(app.home, app.clock.now)
    engine = app.engine
    start = time.perf_counter()
    outcome = engine.trigger(app.project.find("acme/bench"))
    elapsed = time.perf_counter() - start
    assert outcome.ok, outcome.error
    app.state.close()
    shutil.rmtree(home)
    return elapsed / effects


# -- 2. append --------------------------------------------------------------------------------------
def ours_append(root: Path, n: int) -> float:
    home = Path(tempfile.mkdtemp(dir=root))
    clock = FakeClock("2026-01-01T00:00:00+00:00")
    trail = AuditTrail(home, clock.now, State(home / "state.db"))  # sealing marks it, as App's
    start = time.perf_counter()
    for i in range(n):
        trail.record(
            "acme",
            "effect.done",
            workflow="inbox",
            run="0123456789abcdef",
            step="triage",
            effect=f"move:{i}",
            description=DESCRIPTION.format(i=i),
            details={"kind": "email.move"},
        )
    trail.sync()
    elapsed = time.perf_counter() - start
    shutil.rmtree(home)
    return elapsed / n


def peer_append(path: Path, n: int, start_time: datetime) -> float:
    """The plain way: one open file, json.dumps(sort_keys) + sha256 chain, fsync at the end."""
    prev = "0" * 64
    start = time.perf_counter()
    with open(path, "a", encoding="utf-8") as f:
        for i in range(n):
            rec = {
                "seq": i + 1,
                "time": (start_time + timedelta(seconds=7 * i)).isoformat(),
                "client": "acme",
                "workflow": "inbox",
                "run": "0123456789abcdef",
                "step": "triage",
                "event": "effect.done",
                "effect": f"move:{i}",
                "description": DESCRIPTION.format(i=i),
                "details": {"kind": "email.move"},
                "prev": prev,
            }
            prev = rec["hash"] = hashlib.sha256(
                json.dumps(rec, sort_keys=True).encode()
            ).hexdigest()
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return (time.perf_counter() - start) / n


def timed_peer_append(root: Path, n: int) -> float:
    path = Path(tempfile.mkdtemp(dir=root)) / "peer.jsonl"
    result = peer_append(path, n, datetime(2026, 1, 1, tzinfo=UTC))
    shutil.rmtree(path.parent)
    return result


# -- 3. verify --------------------------------------------------------------------------------------
def build_trail(home: Path, n: int) -> float:
    clock = FakeClock("2026-01-01T00:00:00+00:00")
    trail = AuditTrail(home, clock.now, State(home / "state.db"))  # sealing marks it, as App's
    start = time.perf_counter()
    for i in range(n):
        clock.advance(7)  # 1M records span about three months: three files
        trail.record(
            "acme",
            "effect.done",
            workflow="inbox",
            run="0123456789abcdef",
            step="triage",
            effect=f"move:{i}",
            description=DESCRIPTION.format(i=i),
            details={"kind": "email.move"},
        )
        if i % 1000 == 999:
            trail.sync()
    trail.sync()
    return time.perf_counter() - start


def peer_verify(path: Path) -> tuple[bool, int]:
    prev, n = "0" * 64, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            own = rec.pop("hash")
            if (
                rec["prev"] != prev
                or hashlib.sha256(json.dumps(rec, sort_keys=True).encode()).hexdigest() != own
            ):
                return False, n
            prev, n = own, n + 1
    return True, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--sample", type=int, default=50_000, help="records per append trial")
    parser.add_argument(
        "--effects", type=int, default=300, help="effects per run in the run-cost trial"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="scratch folder [default: a temporary one]"
    )
    args = parser.parse_args()
    configure_logging("error", json_logs=True)
    root = Path(tempfile.mkdtemp(prefix="avflow-bench-audit-", dir=args.dir))
    print(
        f"avflow audit benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, scratch {root}"
    )
    try:
        per_effect = alternate(
            args.trials,
            {
                "run with avflow's audit trail": lambda: run_cost(root, args.effects, null=False),
                "run with a trail that records nothing": lambda: run_cost(
                    root, args.effects, null=True
                ),
            },
        )
        show(
            f"1. one run of {args.effects} effects through the engine and ledger, per effect",
            per_effect,
            "ms",
            1e3,
        )
        added = statistics.median(per_effect["run with avflow's audit trail"]) - statistics.median(
            per_effect["run with a trail that records nothing"]
        )
        print(f"  => the audit trail adds {added * 1e3:.3f} ms per effect (goal: under 1 ms)")

        appends = alternate(
            args.trials,
            {
                "avflow AuditTrail.record": lambda: ours_append(root, args.sample),
                "peer: json.dumps + sha256 + write": lambda: timed_peer_append(root, args.sample),
            },
        )
        show(f"2. append, {args.sample} records a trial, per record", appends, "us", 1e6)
        per_record = statistics.median(appends["avflow AuditTrail.record"])
        print(
            f"  => {1 / per_record:,.0f} records/s; an effect writes 2 records (intent, done): "
            f"{2 * per_record * 1e3:.3f} ms"
        )

        home = root / "big"
        built = build_trail(home, args.records)
        directory = home / "audit" / "acme"
        files = sorted(directory.glob("2*.jsonl"))
        size = sum(p.stat().st_size for p in files)
        print(
            f"\nbuilt {args.records:,} records with AuditTrail in {built:.1f} s "
            f"({args.records / built:,.0f} records/s), {len(files)} files, {size / 2**20:.0f} MiB"
        )
        peer_file = root / "peer.jsonl"
        peer_append(peer_file, args.records, datetime(2026, 1, 1, tzinfo=UTC))
        public = AuditTrail(home).key.public()

        def ours() -> float:
            start = time.perf_counter()
            result = verify_trail(directory, "acme", public)
            elapsed = time.perf_counter() - start
            assert result.ok and result.records == args.records, result.problems[:3]
            return elapsed

        def peer() -> float:
            start = time.perf_counter()
            ok, n = peer_verify(peer_file)
            elapsed = time.perf_counter() - start
            assert ok and n == args.records
            return elapsed

        def sha256sum() -> float:
            start = time.perf_counter()
            subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
            return time.perf_counter() - start

        verifies = alternate(
            args.trials,
            {
                "avflow audit verify": ours,
                "peer: json.loads + re-hash loop": peer,
                "sha256sum over avflow's files": sha256sum,
            },
        )
        show(f"3. verify {args.records:,} records", verifies, "s")
        med = statistics.median(verifies["avflow audit verify"])
        print(
            f"  => verify: {med:.2f} s for {args.records:,} records (goal: under 5 s): "
            f"{'met' if med < 5 else 'NOT met'}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
