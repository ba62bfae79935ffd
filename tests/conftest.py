"""Fixtures shared by test folders: the Lambda bundle as `cdk synth` builds it, and the Lambda's Python."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lambda_runtime_version() -> str:
    """The function's Python version (``3.13``), from the construct's runtime."""
    from stacks.agent_api.construct import LAMBDA_RUNTIME

    return str(LAMBDA_RUNTIME.name.removeprefix("python"))


@pytest.fixture(scope="session")
def lambda_bundle(
    tmp_path_factory: pytest.TempPathFactory, lambda_runtime_version: str
) -> Callable[[str], Path]:
    """``lambda_bundle(architecture)``: the function's bundle, built once per session and architecture.

    Built by the bundler `cdk synth` uses (pip from the hashed lock, then pruning), so tests see what
    Lambda gets.
    """
    from stacks.agent_api.bundling import PipLocalBundling

    built: dict[str, Path] = {}

    def build(architecture: str) -> Path:
        if architecture not in built:
            output = tmp_path_factory.mktemp(f"lambda-bundle-{architecture}")
            bundler = PipLocalBundling(
                ROOT / "lambda", architecture=architecture, python_version=lambda_runtime_version
            )
            bundler.try_bundle(str(output))
            built[architecture] = output
        return built[architecture]

    return build


def _python_candidates(version: str) -> list[str]:
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = [os.environ.get("LAMBDA_PYTHON", ""), shutil.which(f"python{version}") or ""]
    found += [str(path) for path in sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"))]
    return [candidate for candidate in found if candidate]


@pytest.fixture(scope="session")
def lambda_python(lambda_runtime_version: str) -> str:
    """A Python interpreter of the function's version, to run the bundle's compiled wheels.

    Taken from ``LAMBDA_PYTHON``, the PATH or pyenv. Without one the tests that need it are skipped,
    except in CI (``CI`` set), where that is a failure.
    """
    for candidate in _python_candidates(lambda_runtime_version):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == lambda_runtime_version:
            return candidate
    message = (
        f"no Python {lambda_runtime_version} (the Lambda runtime's) found: set LAMBDA_PYTHON, or put "
        f"python{lambda_runtime_version} on the PATH"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
