"""The agent API's deployment contract (lambda/agent_api/contract.py), loaded as one file for the CDK app.

The CDK app must not import the Lambda package: that would need lambda/ on sys.path and could pull in the
runtime's dependencies. The contract module imports only the standard library, so loading that single file
gives the app the very same names, defaults and rules the function validates its environment with.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "lambda" / "agent_api" / "contract.py"
_MODULE_NAME = "stacks.agent_api._loaded_contract"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, CONTRACT_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the agent API contract from {CONTRACT_FILE}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up in sys.modules.
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    # mypy reads the real module (pyproject's mypy_path has lambda/); at run time it is loaded from its file.
    from agent_api import contract
else:
    contract = sys.modules.get(_MODULE_NAME) or _load()

__all__ = ["contract"]
