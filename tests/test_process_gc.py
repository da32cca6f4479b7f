"""A command runs with fewer garbage collections, and the process exits without scanning what
it leaves (avflow.process.few_collections; docs/operations.md, "Command-line start-up")."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from avflow.cli import main
from avflow.process import YOUNG_COLLECTION, few_collections


def test_thresholds_are_raised_while_a_command_runs_and_put_back_after() -> None:
    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold() == (max(before[0], YOUNG_COLLECTION), *before[1:])
    assert gc.get_threshold() == before


def test_main_puts_the_thresholds_back_when_a_command_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(SystemExit) as exit_:
        main(["no-such-command"])
    assert exit_.value.code == 2
    assert gc.get_threshold() == before


def test_what_is_alive_at_exit_is_frozen() -> None:
    """The freeze runs at exit, after the command, before the interpreter's last collections
    (a handler registered before ours runs after it)."""
    probe = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "from avflow.process import few_collections\n"
        "with few_collections():\n"
        "    print('inside', gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["inside", "0", "frozen", "True"]


def test_garbage_left_at_exit_is_still_finalized() -> None:
    """A cycle that only garbage holds (say, a file object) is collected at exit, not frozen."""
    probe = (
        "import gc\n"
        "from avflow.process import few_collections\n"
        "class Held:\n"
        "    def __del__(self):\n"
        "        print('finalized', flush=True)\n"
        "with few_collections():\n"
        "    a = Held(); a.me = a; del a\n"
        "    print('left')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["left", "finalized"]


def test_putting_the_thresholds_back_starts_no_collection() -> None:
    """What the command made goes to the oldest generation: no young objects are left pending
    for the restored threshold to collect at once, and nothing stays frozen."""
    with few_collections():
        made = [[i] for i in range(5_000)]  # more than the default threshold of 700
        collections_before = [g["collections"] for g in gc.get_stats()]
    collections_after = [g["collections"] for g in gc.get_stats()]
    assert collections_after == collections_before
    assert gc.get_count()[0] < 50
    assert gc.get_freeze_count() == 0
    assert gc.is_tracked(made[0])


def test_objects_the_caller_froze_stay_frozen() -> None:
    probe = (
        "import gc\n"
        "from avflow.process import few_collections\n"
        "keep = [[i] for i in range(100)]\n"
        "gc.freeze()\n"
        "frozen = gc.get_freeze_count()\n"
        "with few_collections():\n"
        "    pass\n"
        "print(gc.get_freeze_count() >= frozen > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]
