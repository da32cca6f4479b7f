"""Importing avflow changes no global state (a plugin or a test may import it freely)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import logging, os, sys, warnings
env, handlers, filters = dict(os.environ), list(logging.root.handlers), list(warnings.filters)
hook = sys.excepthook
import avflow, avflow.api, avflow.errors, avflow.testing
assert dict(os.environ) == env, "environment changed"
assert logging.root.handlers == handlers, "logging configured"
new = [f for f in warnings.filters if f not in filters]
assert not new, new
assert sys.excepthook is hook, "excepthook replaced"
import structlog
assert not structlog.is_configured(), "structlog configured"
import structlog.dev
try:
    import rich
except ImportError:
    pass
else:
    assert structlog.dev.rich is not None, "structlog was made to believe rich is missing"
print("ok")
"""


def test_importing_avflow_changes_no_global_state() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
