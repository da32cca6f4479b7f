"""Benchmark: `avflow run` with 10,000 workflows against APScheduler 3 holding the same cron jobs.

    .venv/bin/python bench/scheduler.py [--clients 1000] [--per-client 10] [--trials 5] [--idle 60]

Generates 1,000 clients (8 timezones) x 10 workflows using ~200 distinct cron expressions, then
runs, alternately, the avflow service and an APScheduler 3 BackgroundScheduler process holding the
same 10,000 CronTriggers (read from a JSON manifest: it parses no YAML and validates nothing).
For each process it measures:

- start-up: wall time from spawning the process to "ready" (avflow: its "service started" log
  line, after loading and checking every file, catching up, persisting next firings; APScheduler:
  after ``start()`` computed every job's next fire time);
- memory: resident set size once ready (VmRSS) and its peak (VmHWM);
- idle CPU: user+system CPU seconds used during ``--idle`` real seconds, from 5 s after ready
  (so every background thread has settled), with both
  clocks set to a Sunday (every job runs Monday to Friday) and running 3600/idle times faster, so
  the window is one simulated hour in which nothing is due; also projected to a real hour.

The first avflow trial starts with an empty home folder (cold: no state.db yet) and is reported on
its own; the medians are over the following (warm) trials, alternating which process goes first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench/ holds scripts named like standard modules (calendar.py): never import from it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
SETTLE = 5.0
SUNDAY = "2026-03-08T10:00:00Z"  # Sunday in every zone below
ZONES = [
    "Europe/Rome",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
    "Europe/Berlin",
    "America/Chicago",
]


def crons(n: int = 200) -> list[str]:
    out: list[str] = []
    rnd = random.Random(7)
    while len(out) < n:
        kind = rnd.randrange(4)
        m, h = rnd.randrange(60), rnd.randrange(7, 19)
        expr = [
            f"{m} {h} * * 1-5",
            f"*/{rnd.choice([5, 10, 15, 20, 30])} {h}-{min(h + 8, 20)} * * 1-5",
            f"{m} {h},{h + 2} * * {rnd.randrange(1, 6)}",
            f"{m} */{rnd.choice([2, 3, 4])} * * 1-5",
        ][kind]
        if expr not in out:
            out.append(expr)
    return out


def generate(root: Path, clients: int, per: int) -> list[list[str]]:
    exprs = crons()
    manifest = []
    for c in range(clients):
        tz = ZONES[c % len(ZONES)]
        d = root / f"client{c:04d}"
        d.mkdir(parents=True)
        (d / "client.yaml").write_text(
            f'name: Client {c}\ntimezone: {tz}\nworking_hours: {{mon-fri: "09:00-18:00"}}\n'
        )
        for w in range(per):
            cron = exprs[(c * per + w) % len(exprs)]
            (d / f"wf{w}.yaml").write_text(
                f'name: Workflow {w}\non:\n  schedule:\n    - cron: "{cron}"\n  catch_up: latest\n'
                f'steps:\n  - uses: core.log\n    with:\n      message: "{{{{ client.name }}}}: workflow {w} of client {c}"\n'
            )
            manifest.append([f"client{c:04d}/wf{w}", cron, tz])
    return manifest


def proc_stat(pid: int) -> tuple[float, float, float]:
    """(cpu seconds, rss MB, peak rss MB) of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return cpu, int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def measure(cmd: list[str], env: dict[str, str], ready: str, idle: float) -> dict[str, float]:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.stdout is not None
    for line in p.stdout:
        if ready in line:
            break
    else:
        raise SystemExit(f"{cmd[0]} exited before ready: {p.wait()}")
    startup = time.perf_counter() - t0
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()  # type: ignore[union-attr]
    time.sleep(SETTLE)  # let background threads settle before the idle window
    cpu0, rss, _ = proc_stat(p.pid)
    time.sleep(idle)
    cpu1, _, peak = proc_stat(p.pid)
    p.send_signal(signal.SIGTERM)
    code = p.wait(120)
    if code != 0:
        raise SystemExit(f"exit code {code} after SIGTERM: {cmd}")
    return {"startup": startup, "rss": rss, "peak": peak, "idle_cpu": cpu1 - cpu0}


def aps_peer(manifest: Path, fake_now: str, rate: float) -> None:
    """The APScheduler side: the same cron jobs, its clock set like avflow's."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    import apscheduler.schedulers.base as base
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    start = datetime.fromisoformat(fake_now.replace("Z", "+00:00"))
    t0 = time.monotonic()

    class Shifted(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return (start + timedelta(seconds=(time.monotonic() - t0) * rate)).astimezone(tz or UTC)

    base.datetime = Shifted  # type: ignore[misc]

    def job() -> None:
        pass

    sched = BackgroundScheduler()
    zones: dict[str, ZoneInfo] = {}
    for job_id, cron, tz in json.loads(manifest.read_text()):
        zone = zones.setdefault(tz, ZoneInfo(tz))
        sched.add_job(job, CronTrigger.from_crontab(cron, timezone=zone), id=job_id)
    sched.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    sched.shutdown(wait=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--per-client", type=int, default=10)
    ap.add_argument(
        "--trials", type=int, default=5, help="warm trials of each (after one cold avflow start)"
    )
    ap.add_argument(
        "--idle",
        type=float,
        default=60.0,
        help="real seconds of idle measured (one simulated hour)",
    )
    ap.add_argument("--peer-aps", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--fake-now", default=SUNDAY, help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=60.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_aps:
        aps_peer(args.peer_aps, args.fake_now, args.rate)
        return
    rate = 3600.0 / args.idle
    work = Path(tempfile.mkdtemp(prefix="avflow-bench-"))
    try:
        manifest = generate(work / "workflows", args.clients, args.per_client)
        (work / "jobs.json").write_text(json.dumps(manifest))
        print(
            f"{len(manifest)} workflows, {args.clients} clients, {len({m[1] for m in manifest})} distinct crons, "
            f"{len(ZONES)} timezones; idle window {args.idle:g}s real = 1 simulated hour (rate {rate:g})"
        )
        env = {
            **os.environ,
            "AVFLOW_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        # As installed (and as APScheduler's modules are): the cold start leaves bytecode
        # (__pycache__) that the measured starts load, instead of compiling every module of
        # avflow again at each start (a fresh clone has none; bench/cli.py does the same).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        avflow = [
            sys.executable,
            "-c",
            "import sys; from avflow.cli import main; from avflow.clock import ShiftedClock; "
            f"sys.exit(main(clock=ShiftedClock({SUNDAY!r}, {rate!r})))",
            "--workflows",
            str(work / "workflows"),
            "--home",
            str(work / "home"),
            "--log-json",
            "run",
        ]
        aps = [
            sys.executable,
            __file__,
            "--peer-aps",
            str(work / "jobs.json"),
            "--fake-now",
            SUNDAY,
            "--rate",
            str(rate),
        ]
        cold = measure(avflow, env, '"service started"', args.idle)
        results: dict[str, list[dict[str, float]]] = {"avflow": [], "apscheduler": []}
        for trial in range(args.trials):
            order = [("avflow", avflow, '"service started"'), ("apscheduler", aps, "ready")]
            for name, cmd, ready in order if trial % 2 == 0 else order[::-1]:
                results[name].append(measure(cmd, env, ready, args.idle))
                r = results[name][-1]
                print(
                    f"  trial {trial + 1} {name:12} start-up {r['startup']:6.2f}s  rss {r['rss']:6.1f} MB  "
                    f"peak {r['peak']:6.1f} MB  idle cpu {r['idle_cpu']:.2f}s",
                    flush=True,
                )
        print(
            f"\ncold avflow start (empty home folder): start-up {cold['startup']:.2f}s, rss {cold['rss']:.1f} MB, "
            f"peak {cold['peak']:.1f} MB"
        )
        print(
            f"\n{'median of ' + str(args.trials) + ' warm trials':34} {'avflow':>10} {'APScheduler 3':>14} {'ratio':>7}"
        )
        for key, label, unit in (
            ("startup", "start-up", "s"),
            ("rss", "resident memory", "MB"),
            ("peak", "peak resident memory", "MB"),
            ("idle_cpu", "idle CPU, simulated hour", "s"),
        ):
            a = statistics.median(r[key] for r in results["avflow"])
            b = statistics.median(r[key] for r in results["apscheduler"])
            ratio = f"{a / b:7.2f}" if b > 0 else "      -"
            print(f"{label:34} {a:9.2f}{unit:>1} {b:13.2f}{unit:>1} {ratio}")
        for name in results:
            per_hour = statistics.median(r["idle_cpu"] for r in results[name]) * 3600 / args.idle
            print(
                f"idle CPU projected to a real hour, {name}: {per_hour:.2f}s ({per_hour / 36:.3f}% of one core)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
