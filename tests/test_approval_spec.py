"""``avflow.ApprovalSpec``: a plugin's ``approval:`` parameter, checked as ``core.approval``'s
keys are (docs/approvals.md, "For plugins")."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

import avflow
from avflow.builtin_params import ApprovalParams


def test_short_form_and_mapping() -> None:
    spec = avflow.ApprovalSpec
    assert spec.model_validate(True) == spec()
    got = spec.model_validate({"summary": "Book?", "timeout": "2d", "default": "reject"})
    assert (got.summary, got.timeout, got.default) == ("Book?", "2d", "reject")
    assert spec.model_validate({"timeout": "4h"}).timeout == 14400.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"timeout": "1.5d", "summary": "x"}, "whole working days"),
        ({"default": "reject", "summary": "x"}, "default needs a timeout"),
        ({"timeout": "soon", "summary": "x"}, "timeout"),
        ({"timeout": "1h", "default": "maybe", "summary": "x"}, "default"),
        ({"summary": "x", "when": "now"}, "when"),
    ],
)
def test_the_same_checks_as_core_approval(value: object, message: str) -> None:
    for model in (avflow.ApprovalSpec, ApprovalParams):
        with pytest.raises(ValidationError, match=message):
            model.model_validate(value)


def test_anything_but_true_or_a_mapping_is_refused() -> None:
    for value in (False, "yes", 3):
        with pytest.raises(ValidationError, match="write true, or a mapping"):
            avflow.ApprovalSpec.model_validate(value)
    with pytest.raises(ValidationError):  # core.approval needs its summary
        ApprovalParams.model_validate({})


def test_importing_it_does_not_import_core_approvals_models() -> None:
    code = "import sys, avflow; avflow.ApprovalSpec; print('avflow.builtin_params' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
