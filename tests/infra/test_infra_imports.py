"""The CDK app imports no runtime dependency of the Lambda code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.infra.infra_support import ROOT

pytestmark = pytest.mark.infra

RUNTIME_PACKAGES = ("strands", "starlette", "uvicorn", "boto3", "botocore", "aws_lambda_powertools")


def test_app_loads_without_runtime_dependencies() -> None:
    probe = f"import sys, app; print(','.join(sorted(m for m in {RUNTIME_PACKAGES!r} if m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
