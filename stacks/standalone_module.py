"""Load the standard-library-only source files of the runtime as modules, without importing their packages.

The CDK app must not import the Lambda's or the container's packages (that would need their roots on
sys.path and could pull in their dependencies); the contract files they keep for the deployment import only
the standard library (and, in the Lambda's case, each other), so loading them gives synth the very same
names, defaults and rules.
"""

from __future__ import annotations

import importlib
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


def load_from_directory(directory: Path, module: str, package_name: str) -> ModuleType:
    """Return ``directory/<module>.py`` loaded as ``<package_name>.<module>``, once per process.

    ``package_name`` is an empty stand-in for the directory's package: the module's relative imports
    (``from .setting_kinds import ...``) load their files from ``directory`` too, while the real package's
    ``__init__.py`` and everything else in it stay unimported.
    """
    if package_name not in sys.modules:
        package = ModuleType(package_name, f"stand-in for the package in {directory}")
        package.__path__ = [str(directory)]
        sys.modules[package_name] = package
    return importlib.import_module(f"{package_name}.{module}")
