"""One environment's settings from ``cdk.json``, parsed by the CDK app's own rules (no CDK import)."""

from __future__ import annotations

import json
from pathlib import Path

from stacks.config import EnvironmentConfig, select_environments

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def load_environment(name: str, cdk_json: Path = CDK_JSON) -> EnvironmentConfig:
    """Return the validated settings of environment ``name`` (:class:`stacks.config.ConfigError` if bad)."""
    context = json.loads(cdk_json.read_text())["context"]
    (config,) = select_environments(context.get("environments"), name)
    return config
