"""Importing avflow changes no global state (a plugin or a test may import it freely): not on
``import avflow``, and not when every name it exports is used (each imports its module then)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import faulthandler, locale, logging, os, signal, socket, sqlite3, sys, threading, warnings
import yaml

SIGNALS = [s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP)]


def snapshot():
    umask = os.umask(0o22)
    os.umask(umask)
    loggers = {
        name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    return {
        "environment": dict(os.environ),
        "umask": umask,
        "cwd": os.getcwd(),
        "root logger": (logging.root.level, list(logging.root.handlers)),
        "loggers": loggers,
        "logging.disable": logging.root.manager.disable,
        "logger class": logging.getLoggerClass(),
        "log record factory": logging.getLogRecordFactory(),
        "warnings": (list(warnings.filters), warnings.showwarning),
        "signals": {s: signal.getsignal(s) for s in SIGNALS},
        "hooks": (sys.excepthook, threading.excepthook, sys.unraisablehook, sys.displayhook),
        "limits": (sys.getrecursionlimit(), sys.getswitchinterval(), sys.get_int_max_str_digits()),
        "streams": (sys.stdin, sys.stdout, sys.stderr),
        "sys.path": list(sys.path),
        "socket timeout": socket.getdefaulttimeout(),
        "sqlite3": (dict(sqlite3.adapters), dict(sqlite3.converters)),
        "locale": locale.setlocale(locale.LC_ALL),
        "faulthandler": faulthandler.is_enabled(),
        "yaml": [
            (dict(c.yaml_constructors), {k: list(v) for k, v in c.yaml_implicit_resolvers.items()})
            for c in (yaml.SafeLoader, yaml.Loader, yaml.FullLoader, yaml.BaseLoader)
        ] + [dict(d.yaml_representers) for d in (yaml.SafeDumper, yaml.Dumper)],
    }


before = snapshot()
# loggers that exist before, with their state: a new logger a dependency makes is not a change
import avflow
for name in avflow.__all__:
    getattr(avflow, name)
import avflow.api, avflow.errors, avflow.testing
after = snapshot()
after["loggers"] = {k: v for k, v in after["loggers"].items() if k in before["loggers"]}
changed = [k for k in before if before[k] != after[k]]
new_loggers = [
    (name, lg.level, lg.handlers, lg.propagate)
    for name, lg in logging.root.manager.loggerDict.items()
    if isinstance(lg, logging.Logger) and (lg.level or lg.handlers or not lg.propagate)
]
assert not changed, changed
assert not new_loggers, new_loggers
import structlog
assert not structlog.is_configured(), "structlog configured"
import structlog.dev
try:
    import rich
except ImportError:
    pass
else:
    assert structlog.dev.rich is not None, "structlog was made to believe rich is missing"
print("ok", len(avflow.__all__))
"""


def test_importing_avflow_changes_no_global_state() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "ok" and int(done.stdout.split()[1]) > 30


def test_the_probe_sees_a_change() -> None:
    """The probe fails when importing changes something it watches (so a pass means something)."""
    for change in (
        "import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)",
        "import logging; logging.getLogger('avflow').setLevel(logging.DEBUG)",
        "import sqlite3, datetime; sqlite3.register_adapter(datetime.date, str)",
        "import yaml; yaml.SafeLoader.add_constructor('!x', lambda l, n: 1)",
        "import os; os.umask(0o077)",
    ):
        probe = PROBE.replace("import avflow\n", f"import avflow\n{change}\n", 1)
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
        assert done.returncode != 0, change
