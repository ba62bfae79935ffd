"""The serving container's settings rules (container/serve_settings.py), loaded as one file for the CDK app.

As with the agent API's contract (stacks/agent_api/lambda_contract.py), the app does not import the
container's package; the module imports only the standard library, so loading that single file gives synth
the very same model profiles and engine parser names the container validates its `SERVE_*` variables with.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SERVE_SETTINGS_FILE = Path(__file__).resolve().parents[2] / "container" / "serve_settings.py"
_MODULE_NAME = "stacks.inference._loaded_serve_settings"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, SERVE_SETTINGS_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the serving settings from {SERVE_SETTINGS_FILE}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up in sys.modules.
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


serving: ModuleType = sys.modules.get(_MODULE_NAME) or _load()

__all__ = ["serving"]
