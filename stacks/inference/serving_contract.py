"""The serving container's settings rules (container/serve_settings.py), loaded as one file for the CDK app.

Synth validates `cdk.json`'s `model` section with the very same model profiles and engine parser names the
container validates its `SERVE_*` variables with (see stacks/standalone_module.py).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from stacks.standalone_module import load_file

SERVE_SETTINGS_FILE = Path(__file__).resolve().parents[2] / "container" / "serve_settings.py"

serving: ModuleType = load_file(SERVE_SETTINGS_FILE, "stacks.inference._loaded_serve_settings")

__all__ = ["serving"]
