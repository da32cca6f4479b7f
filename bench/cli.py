"""Benchmark: how quickly `avflow` answers, beside a ten-line click program in the same venv.

    .venv/bin/python bench/cli.py [--trials 7]

Whole processes, as a person at a terminal starts them: `avflow --help`, `avflow validate` and
`avflow next --count 5` on the bundled demo (``workflows/``, every installed plugin loaded), and
the ``--help`` of a ten-line click program (the peer: the floor any click command line pays for
the interpreter and click). Trials alternate the peer with each avflow command; the figures are
medians of wall time, and their ratio to the peer's. Goal: ``--help`` at most 3x the peer,
``validate`` at most 6x.
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

ROOT = Path(__file__).resolve().parents[1]
PEER = '''\
import click


@click.group()
@click.option("--verbose", is_flag=True, help="Say more.")
def cli(verbose):
    """A ten-line click program."""


@cli.command()
def hello():
    """Say hello."""
    click.echo("hello")


cli()
'''


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()[:500]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avflow-cli-"))
    try:
        peer = work / "peer.py"
        peer.write_text(PEER)
        env = {**os.environ, "AVFLOW_HOME": str(work / "home")}
        env.pop("AVFLOW_DISABLE_PLUGIN_AUTOLOAD", None)
        # As installed: the warm-up run leaves bytecode (__pycache__) that later runs load,
        # instead of compiling every module of avflow and its plugins again at each start.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        avflow = [sys.executable, "-m", "avflow", "--workflows", str(ROOT / "workflows")]
        commands = {
            "avflow --help": [*avflow, "--help"],
            "avflow validate": [*avflow, "validate"],
            "avflow next --count 5": [*avflow, "next", "--count", "5"],
        }
        peer_cmd = [sys.executable, str(peer), "--help"]
        for cmd in [peer_cmd, *commands.values()]:  # warm the disk cache, check they work
            wall(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        peer_times: list[float] = []
        for trial in range(args.trials):
            for name, cmd in commands.items():
                pair = [("peer", peer_cmd), (name, cmd)]
                for who, c in pair if trial % 2 == 0 else pair[::-1]:
                    (peer_times if who == "peer" else times[name]).append(wall(c, env))
        base = statistics.median(peer_times)
        print(f"median of {args.trials} alternating trials (whole processes)")
        print(f"{'ten-line click program --help':32} {base * 1000:8.0f} ms   1.00x")
        for name, got in times.items():
            t = statistics.median(got)
            print(f"{name:32} {t * 1000:8.0f} ms {t / base:6.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
