"""The agent API's deployment contract (lambda/agent_api/contract.py), loaded from its files for the CDK app.

The CDK app must not import the Lambda package: that would need lambda/ on sys.path and could pull in the
runtime's dependencies. The contract imports only the standard library and its siblings (`setting_kinds`,
`fallback_settings`, `mcp_servers`, `tool_catalog`), so loading those files (stacks/standalone_module.py)
gives the app the very same settings table, names, defaults and rules the function validates its
environment with, and the same reading of the Python tools' source.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stacks.standalone_module import load_from_directory

LAMBDA_PACKAGE_DIR = Path(__file__).resolve().parents[2] / "lambda" / "agent_api"
CONTRACT_FILE = LAMBDA_PACKAGE_DIR / "contract.py"

if TYPE_CHECKING:
    # mypy reads the real modules (pyproject's mypy_path has lambda/); at run time they load from their files.
    from agent_api import contract, fallback_settings, mcp_servers, setting_kinds, tool_catalog
else:
    contract = load_from_directory(LAMBDA_PACKAGE_DIR, "contract", "stacks.agent_api._lambda")
    setting_kinds = load_from_directory(LAMBDA_PACKAGE_DIR, "setting_kinds", "stacks.agent_api._lambda")
    mcp_servers = load_from_directory(LAMBDA_PACKAGE_DIR, "mcp_servers", "stacks.agent_api._lambda")
    tool_catalog = load_from_directory(LAMBDA_PACKAGE_DIR, "tool_catalog", "stacks.agent_api._lambda")
    fallback_settings = load_from_directory(
        LAMBDA_PACKAGE_DIR, "fallback_settings", "stacks.agent_api._lambda"
    )

__all__ = ["contract", "fallback_settings", "mcp_servers", "setting_kinds", "tool_catalog"]
