"""Benchmark: `avflow validate` on each hostile workflow file, side by side with the bundled demo.

    .venv/bin/python bench/hostile.py [--trials 5]

Each hostile file sits alone (beside a valid ``client.yaml``) in a workflows folder of its own:
a FIFO named ``*.yaml``, links to ``/dev/zero``, to ``/etc/shadow`` and out of the folder, a
50 MB file, an alias bomb, nesting 100,000 levels deep (flow and block), a file just under the
size limit with thousands of steps (and a duplicate step id at the end), bytes that are not
UTF-8. Every run is a whole ``avflow validate`` process with the same plugins; trials alternate
demo / hostile, and the figures are medians of wall time and peak resident memory (the child's
``ru_maxrss``). Goal: each hostile file at most 3x the demo's time and memory, and its output
one line naming the file, exit code 2.
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
PROFILE = "name: Bench\ntimezone: Europe/Rome\n"
STEP = "  - uses: core.log\n    with: { message: hi }\n"


def alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    return "\n".join(lines) + "\nsteps:\n" + STEP


def many_steps(limit: int = 256 * 1024) -> str:
    step = "  - id: s{i}\n    uses: core.log\n    with: {{ message: hi }}\n"
    parts, size, i = ["steps:\n"], 7, 0
    while size + 200 < limit:
        parts.append(step.format(i=i))
        size += len(parts[-1])
        i += 1
    parts.append(step.format(i=0))  # a duplicate id at the very end
    return "".join(parts)


def write_50_mb(path: Path) -> None:
    """In 1 MB writes: this process stays small, and its children (forked from it) with it; a
    child's peak memory (``ru_maxrss``) starts from its parent's at the fork."""
    with path.open("wb") as f:
        f.write(b"steps:\n")
        for _ in range(50):
            f.write(b"  - uses: core.log\n" * 55_000)


def make_cases(work: Path) -> dict[str, Path]:
    """Name -> a workflows folder holding one client with that hostile file."""
    outside = work / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("steps: []\n")

    def folder(name: str) -> Path:
        root = work / name / "workflows"
        (root / "bench").mkdir(parents=True)
        (root / "bench" / "client.yaml").write_text(PROFILE)
        return root / "bench"

    cases: dict[str, Path] = {}
    writers = {
        "fifo": lambda p: os.mkfifo(p),
        "link to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
        "link to /etc/shadow": lambda p: p.symlink_to("/etc/shadow"),
        "link out of the folder": lambda p: p.symlink_to(outside / "secret.yaml"),
        "50 MB file": write_50_mb,
        "alias bomb": lambda p: p.write_text(alias_bomb()),
        "deep flow nesting": lambda p: p.write_text("steps: " + "[" * 100_000 + "]" * 100_000),
        "deep block nesting": lambda p: p.write_text("steps:\n" + "- " * 100_000 + "x\n"),
        "256 KiB of steps": lambda p: p.write_text(many_steps()),
        "not UTF-8": lambda p: p.write_bytes(b"steps: \xff\xfe\n"),
    }
    for i, (name, write) in enumerate(writers.items()):
        client = folder(f"case{i}")
        write(client / "hostile.yaml")
        cases[name] = client.parent
    return cases


def run(workflows: Path, home: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit code, stderr) of one `avflow validate` process."""
    cmd = [sys.executable, "-m", "avflow", "--workflows", str(workflows), "--home", str(home)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "validate"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avflow-hostile-"))
    try:
        cases = make_cases(work)
        demo = ROOT / "workflows"
        code = run(demo, work / "home")[2]
        if code != 0:
            raise SystemExit(f"avflow validate of the demo exited {code}")
        print(
            f"{'median of ' + str(args.trials):24} {'time':>8} {'x demo':>7} {'peak MB':>8} "
            f"{'x demo':>7}  output"
        )
        worst = 0.0
        for name, workflows in cases.items():
            mine: list[tuple[float, float]] = []
            peer: list[tuple[float, float]] = []
            err = ""
            for trial in range(args.trials):
                order = [("demo", demo), ("hostile", workflows)]
                for kind, folder in order if trial % 2 == 0 else order[::-1]:
                    wall, peak, code, out = run(folder, work / "home")
                    if kind == "demo":
                        peer.append((wall, peak))
                    else:
                        mine.append((wall, peak))
                        err = out
                        if code != 2 or len(out.strip().splitlines()) != 1 or "Traceback" in out:
                            raise SystemExit(f"{name}: exit {code}, not one line:\n{out[:2000]}")
            t, m = (statistics.median(x[i] for x in mine) for i in (0, 1))
            td, md = (statistics.median(x[i] for x in peer) for i in (0, 1))
            worst = max(worst, t / td, m / md)
            line = err.strip().split(": ", 1)[1]
            print(f"{name:24} {t:7.3f}s {t / td:7.2f} {m:8.1f} {m / md:7.2f}  {line[:70]}")
        print(
            f"demo: {td:.3f}s, {md:.1f} MB (last case's trials); worst ratio {worst:.2f} (goal 3)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
