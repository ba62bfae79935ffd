"""Docker-free bundling of the Lambda code: copy the sources, pip-install wheels for Lambda's platform."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling

# Never part of the deployment package: tests, caches and the requirements file itself.
SOURCE_EXCLUDES = (
    "tests",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "requirements.txt",
)
# CDK requires a Docker image even when local bundling always succeeds; the name says it is unused.
UNUSED_DOCKER_IMAGE = DockerImage.from_registry("local-bundling-only-docker-is-never-used")
_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


class LocalBundlingError(RuntimeError):
    """Local bundling failed; there is deliberately no Docker fallback."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Bundles ``source_dir`` plus its ``requirements.txt`` installed as wheels for the target platform.

    ``pip install --platform ... --only-binary=:all:`` fetches exactly the wheels Lambda can load, so no
    Docker image of the Lambda runtime is needed.
    """

    def __init__(self, source_dir: Path, *, architecture: str, python_version: str) -> None:
        if architecture not in _PLATFORMS:
            raise ValueError(f"architecture must be one of {', '.join(_PLATFORMS)}, got {architecture!r}")
        self.source_dir = source_dir
        self.architecture = architecture
        self.python_version = python_version

    def pip_command(self, output_dir: str) -> list[str]:
        """Return the pip command installing the requirements for Lambda's platform into ``output_dir``."""
        return [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(self.source_dir / "requirements.txt"),
            "--target", output_dir,
            "--platform", _PLATFORMS[self.architecture],
            "--implementation", "cp",
            "--python-version", self.python_version,
            "--only-binary=:all:",
            "--quiet", "--disable-pip-version-check", "--no-compile",
        ]  # fmt: skip

    def try_bundle(self, output_dir: str, _options: BundlingOptions | None = None) -> bool:
        """Bundle into ``output_dir``; raise (never fall back to Docker) if that is impossible."""
        requirements = self.source_dir / "requirements.txt"
        if not requirements.is_file():
            raise LocalBundlingError(f"cannot bundle {self.source_dir}: {requirements} does not exist")
        shutil.copytree(
            self.source_dir, output_dir, ignore=shutil.ignore_patterns(*SOURCE_EXCLUDES), dirs_exist_ok=True
        )
        command = self.pip_command(output_dir)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise LocalBundlingError(
                f"pip could not install {requirements} for Lambda {self.architecture} / Python "
                f"{self.python_version} (exit {result.returncode}):\n{result.stderr.strip()}"
            )
        return True
