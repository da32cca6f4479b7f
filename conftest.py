"""Repository-wide pytest rules (core and plugin tests alike).

Under CI (``CI=true``) no test may skip: a test that needs Dovecot, Radicale, sshd or Chromium
and cannot find it fails instead, so a green CI run means every server-backed test really ran.
A module that skips as a whole while it is collected (``pytest.skip(allow_module_level=True)``)
is a collection, not a test, so it is turned into a collection error (tests/test_ci_no_skip.py).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _refused(longrepr: object) -> str:
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return f"skipped under CI=true, which is not allowed: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = _refused(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = _refused(report.longrepr)
