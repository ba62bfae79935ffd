"""The CDK app imports no runtime dependency of the Lambda code; it reads the agent API contract as a file."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.agent_api.lambda_contract import CONTRACT_FILE
from stacks.inference.serving_contract import SERVE_CONTRACT_FILE
from tests.infra.infra_support import ROOT

pytestmark = pytest.mark.infra

RUNTIME_PACKAGES = (
    "strands",
    "starlette",
    "uvicorn",
    "pydantic",
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "agent_api",
    "sagemaker_provider",
)
# Imports app.py and every module of the CDK app under stacks/ (not the image-build handler, which is Lambda
# code), then reports what got loaded and where Python looked for it.
PROBE = """
import json, pkgutil, importlib, sys
import app, stacks
for module in pkgutil.walk_packages(stacks.__path__, "stacks."):
    if not module.name.startswith("stacks.image_build.handler"):
        importlib.import_module(module.name)
print(json.dumps({"modules": sorted({name.split(".")[0] for name in sys.modules}), "path": sys.path}))
"""


def test_app_and_stacks_load_without_runtime_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert sorted(set(RUNTIME_PACKAGES) & set(loaded["modules"])) == []
    assert str(ROOT / "lambda") not in loaded["path"]


def imports_of(path: Path) -> set[str]:
    """The modules ``path`` imports, with those of the sibling files it imports relatively (``from .x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            # `from .x import y`, or `from . import x, y`
            for module in [node.module] if node.module else [alias.name for alias in node.names]:
                found |= imports_of(path.parent / f"{module}.py")
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("path", [CONTRACT_FILE, SERVE_CONTRACT_FILE], ids=lambda path: path.name)
def test_contracts_import_only_the_standard_library(path: Path) -> None:
    imported = imports_of(path)
    assert "typing" in imported
    assert {name.split(".")[0] for name in imported} <= sys.stdlib_module_names | {"__future__"}
