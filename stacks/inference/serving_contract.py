"""The serving container's contract (container/serve_contract.py), loaded as one file for the CDK app.

Synth validates `cdk.json`'s `model` section with the very same model profiles and engine parser names the
container validates its `SERVE_*` variables with, and writes the model's environment with the container's
own variable names; the local stack starts the container's `serve` with them too (stacks/standalone_module.py
says why a file is loaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stacks.standalone_module import load_file

SERVE_CONTRACT_FILE = Path(__file__).resolve().parents[2] / "container" / "serve_contract.py"

if TYPE_CHECKING:
    # mypy reads the real module (pyproject's mypy_path has container/); at run time it loads from its file.
    import serve_contract as serving
else:
    serving = load_file(SERVE_CONTRACT_FILE, "stacks.inference._loaded_serve_contract")

__all__ = ["serving"]
