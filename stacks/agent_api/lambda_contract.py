"""The agent API's deployment contract (lambda/agent_api/contract.py), loaded as one file for the CDK app.

The CDK app must not import the Lambda package: that would need lambda/ on sys.path and could pull in the
runtime's dependencies. The contract module imports only the standard library, so loading that single file
(stacks/standalone_module.py) gives the app the very same names, defaults and rules the function validates
its environment with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stacks.standalone_module import load_file

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "lambda" / "agent_api" / "contract.py"

if TYPE_CHECKING:
    # mypy reads the real module (pyproject's mypy_path has lambda/); at run time it is loaded from its file.
    from agent_api import contract
else:
    contract = load_file(CONTRACT_FILE, "stacks.agent_api._loaded_contract")

__all__ = ["contract"]
