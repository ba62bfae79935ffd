"""Load one standard-library-only source file of the runtime as a module, without importing its package.

The CDK app must not import the Lambda's or the container's packages (that would need their roots on
sys.path and could pull in their dependencies); the contract files they keep for the deployment import only
the standard library, so loading such a file gives synth the very same names, defaults and rules.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_file(path: Path, module_name: str) -> ModuleType:
    """Return the module of ``path`` under ``module_name``, loading it once per process."""
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up in sys.modules.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
