"""Fixtures of the social plugin's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from avflow.testing import Harness

sys.path.insert(0, str(Path(__file__).parent))  # social_helpers and the test servers beside this
from social_helpers import social_client


@pytest.fixture
def posts(avflow_harness: Harness) -> Path:
    return social_client(avflow_harness)
