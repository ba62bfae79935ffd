"""The package is cheap to import and never loads the openai SDK or web frameworks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "lambda",
        timeout=60,
    )
    return set(result.stdout.split())


def test_package_import_loads_neither_strands_nor_boto3() -> None:
    loaded = _loaded_after("import sagemaker_provider")
    assert not {"strands", "boto3", "botocore"} & loaded


def test_provider_import_never_loads_openai_or_web_frameworks() -> None:
    loaded = _loaded_after("from sagemaker_provider import SageMakerModel")
    assert not {"openai", "starlette", "uvicorn", "aws_cdk"} & loaded
