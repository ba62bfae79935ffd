"""Docker-free bundling of the Lambda code: copy the sources, pip-install wheels for Lambda's platform."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePosixPath

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks.agent_api.team_aws_services import team_aws_services

# Never part of the deployment package: tests, caches and the requirements files themselves.
SOURCE_EXCLUDES = (
    "tests",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "requirements.txt",
    "requirements.in",
)
# CDK requires a Docker image even when local bundling always succeeds; the name says it is unused.
UNUSED_DOCKER_IMAGE = DockerImage.from_registry("local-bundling-only-docker-is-never-used")
_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}

# The AWS services whose botocore models the bundle keeps, by botocore name. botocore ships the models of
# every AWS service (16 MiB of a 65 MiB bundle); the bundle keeps only these, plus botocore's shared files
# (endpoints, partitions, retry and default configuration). The bundle tests prove the list is enough.
AWS_SERVICES = (
    "sagemaker-runtime",  # sagemaker_provider: InvokeEndpointWithResponseStream
    "s3",  # agent_api.sessions: the session store and its locks
    "sagemaker",  # agent_api.warming: describing and waking an inference component scaled to zero
    # agent_api.mcp_auth: the MCP servers' bearer tokens and client secrets; agent_api.trace_export: the
    # headers of observability.otlp_headers_secret
    "secretsmanager",
    "bedrock-runtime",  # agent_api.fallback_model: a Bedrock fallback's Converse and ConverseStream
)
# Distributions the lock installs that no code path of the function imports. The MCP client (agent_api's
# tool sources) needs mcp and what it imports (cryptography among them, 13 MiB, which mcp's server modules
# load when its client package is imported), but not pyjwt (mcp's JWT client assertions: the agent
# authenticates to a token endpoint with HTTP Basic) nor pycparser (cffi's C declaration parser, for building
# bindings: cryptography loads only cffi's compiled backend). The trace exporter (agent_api.trace_export)
# needs protobuf, not googleapis-common-protos (Google's API message types: OTLP's messages are in
# opentelemetry-proto). tests/infra/test_infra_bundling.py checks every import of them left in the bundle.
PRUNED_DISTRIBUTIONS = ("pyjwt", "pycparser", "googleapis-common-protos")
# Powertools' utilities (aws_lambda_powertools.utilities.*) that neither its Logger nor its metrics import.
_UNUSED_POWERTOOLS_UTILITIES = (
    "auth_alpha", "batch", "circuit_breaker", "data_classes", "data_masking", "feature_flags", "idempotency",
    "kafka", "parameters", "parser", "streaming", "validation",
)  # fmt: skip
# Parts of kept distributions that no code path of the function loads (7.7 MiB), by path in the bundle:
PRUNED_PATHS = (
    # Powertools' HTTP routing and its OpenAPI models: the function's app is Starlette (2.2 MiB); and the
    # utilities other than those its Logger and metrics import (jmespath_utils, typing, 1 MiB).
    "aws_lambda_powertools/event_handler",
    *(f"aws_lambda_powertools/utilities/{name}" for name in _UNUSED_POWERTOOLS_UTILITIES),
    # libyaml's C accelerator, which PyYAML imports only if it can: Strands imports yaml (for its agent
    # skills, which the function does not load), and yaml runs in pure Python without it (2.7 MiB); and
    # `_yaml`, PyYAML's old top-level name of it, which without it only raises ModuleNotFoundError.
    "yaml/_yaml.*.so",
    "_yaml",
    # charset_normalizer's modules compiled with mypyc, beside their Python sources, which load in their
    # place: requests imports it to guess the text encoding of a response, which the exporter never asks for
    # (0.4 MiB).
    "charset_normalizer/*.so",
    # Pydantic's copy of its version 1 API, which nothing in the bundle defines models with (0.5 MiB).
    "pydantic/v1",
    # Type stubs, for type checkers, and the C and Cython sources of compiled modules, for building them:
    # Python imports neither (0.5 MiB).
    "**/*.pyi",
    "**/*.c",
    "**/*.pyx",
    "**/*.pxd",
    # Test suites and benchmarks shipped inside packages, which only their own test runs import (0.35 MiB).
    "jsonschema/tests",
    "jsonschema/benchmarks",
    "referencing/tests",
)
# The bundle's budget (Lambda allows 250 MB unzipped): every MiB is unpacked and imported on a cold start.
MAX_BUNDLE_BYTES = 45 * 1024 * 1024
MIB = 1024 * 1024


class LocalBundlingError(RuntimeError):
    """Local bundling failed; there is deliberately no Docker fallback."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Bundles ``source_dir`` plus its ``requirements.txt`` installed as wheels for the target platform.

    ``pip install --platform ... --only-binary=:all: --require-hashes`` fetches exactly the locked wheels
    Lambda can load, so no Docker image of the Lambda runtime is needed. The installed packages are then
    pruned (``AWS_SERVICES``, ``PRUNED_DISTRIBUTIONS``, ``PRUNED_PATHS``) and the bundle must fit
    ``max_bytes``.
    """

    def __init__(
        self,
        source_dir: Path,
        *,
        architecture: str,
        python_version: str,
        max_bytes: int = MAX_BUNDLE_BYTES,
    ) -> None:
        if architecture not in _PLATFORMS:
            raise ValueError(f"architecture must be one of {', '.join(_PLATFORMS)}, got {architecture!r}")
        self.source_dir = source_dir
        self.architecture = architecture
        self.python_version = python_version
        self.max_bytes = max_bytes

    def asset_hash(self) -> str:
        """Return a hash of everything the bundle is built from: the asset's hash, so any change redeploys.

        CDK's own hash of a bundled asset is its copied sources (``requirements.txt`` is excluded from the
        copy) plus the bundling options as JSON, where this bundler is a bare object reference
        (``AssetStaging.calculateHash`` in aws-cdk-lib): a new lock, a change of the pruned distributions or
        the kept models would not change it, and ``cdk deploy`` would keep the old code. This hash covers the
        sources and the lock by relative path and content (the team's tools in `team_tools/` included), the
        target platform, the prune lists, the size budget and this module's own code (the pip command and the
        pruning); it is the same on every clone.
        """
        digest = hashlib.sha256()
        for path in sorted(self.source_dir.rglob("*")):
            relative = path.relative_to(self.source_dir)
            if path.is_file() and (relative.as_posix() == "requirements.txt" or not _excluded(relative)):
                digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        settings = {
            "platform": _PLATFORMS[self.architecture],
            "python_version": self.python_version,
            "aws_services": AWS_SERVICES,
            "pruned_distributions": PRUNED_DISTRIBUTIONS,
            "pruned_paths": PRUNED_PATHS,
            "max_bytes": self.max_bytes,
        }
        digest.update(json.dumps(settings, sort_keys=True).encode())
        digest.update(Path(__file__).read_bytes())
        return digest.hexdigest()

    def pip_command(self, output_dir: str) -> list[str]:
        """Return the pip command installing the requirements for Lambda's platform into ``output_dir``."""
        return [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(self.source_dir / "requirements.txt"),
            "--require-hashes",
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
            self.source_dir,
            output_dir,
            ignore=lambda _directory, names: {name for name in names if _excluded(Path(name))},
            dirs_exist_ok=True,
        )
        command = self.pip_command(output_dir)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise LocalBundlingError(
                f"pip could not install {requirements} for Lambda {self.architecture} / Python "
                f"{self.python_version} (exit {result.returncode}):\n{result.stderr.strip()}"
            )
        root = Path(output_dir)
        for name in PRUNED_DISTRIBUTIONS:
            remove_distribution(root, name)
        remove_paths(root, PRUNED_PATHS)
        # The function's own services, and those the team's Python tools make clients and resources of.
        team = team_aws_services(self.source_dir)
        keep_botocore_models(root, AWS_SERVICES, also=team.models)
        keep_boto3_resource_models(root, team.resources)
        size = bundle_size(root)
        summary = (
            f"Lambda bundle ({self.architecture}): {size / MIB:.1f} MiB unzipped "
            f"(limit {self.max_bytes / MIB:.1f} MiB)"
        )
        if size > self.max_bytes:
            raise LocalBundlingError(f"{summary}: too large; largest parts: {largest_parts(root)}")
        print(summary, file=sys.stderr)
        return True


def bundled_code(source_dir: Path, *, architecture: str, python_version: str) -> lambda_.Code:
    """``source_dir`` with its pip dependencies for the function's platform, bundled locally (no Docker)."""
    bundler = PipLocalBundling(source_dir, architecture=architecture, python_version=python_version)
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=[f"**/{pattern}" for pattern in SOURCE_EXCLUDES],
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundler.asset_hash(),
        bundling=BundlingOptions(image=UNUSED_DOCKER_IMAGE, local=bundler),  # type: ignore[arg-type]
    )


def _excluded(relative: Path) -> bool:
    """Whether a path under the sources is left out of the bundle: any of its parts matches an exclude."""
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in SOURCE_EXCLUDES)


def bundle_size(root: Path) -> int:
    """Return the unzipped size of a bundle: the bytes of its files, as Lambda counts them."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def largest_parts(root: Path, count: int = 5) -> str:
    """Return the ``count`` largest top-level entries of a bundle with their sizes, for error messages."""
    sizes = {
        entry.name: bundle_size(entry) if entry.is_dir() else entry.stat().st_size for entry in root.iterdir()
    }
    ranked = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:count]
    return ", ".join(f"{name} {size / MIB:.1f} MiB" for name, size in ranked)


def _canonical(name: str) -> str:
    """Normalise a distribution name as PEP 503 does (``PyYAML`` and ``pyyaml`` are one distribution)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(root: Path) -> list[metadata.Distribution]:
    """Return the distributions installed in the ``pip --target`` directory ``root``, as it is now.

    Read from a fresh listing of ``root``: ``importlib.metadata.distributions(path=...)`` keeps a listing per
    directory until the directory's mtime changes, and two changes within one tick of the file system's
    coarse clock leave it unchanged, so a distribution just uninstalled could still be listed.
    """
    return [metadata.PathDistribution(info) for info in sorted(root.glob("*.dist-info"))]


def remove_distribution(root: Path, name: str) -> None:
    """Uninstall distribution ``name`` from the ``pip --target`` directory ``root``, by its RECORD."""
    found = [dist for dist in installed_distributions(root) if _canonical(dist.metadata["Name"]) == name]
    if len(found) != 1 or found[0].files is None:
        raise LocalBundlingError(
            f"cannot prune {name!r}: {len(found)} installed copies with a RECORD in {root} (expected one); "
            "update PRUNED_DISTRIBUTIONS to the lock"
        )
    removed: set[Path] = set()
    for entry in found[0].files:
        # pip --target installs scripts to <root>/bin, which RECORD names as ../../bin/<script>.
        path = root.joinpath(*(part for part in PurePosixPath(entry).parts if part != ".."))
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.add(path)
    # Directories left empty (the package's own, its dist-info), deepest first.
    for directory in sorted({p for path in removed for p in path.parents}, key=lambda p: -len(p.parts)):
        if directory != root and root in directory.parents and not any(directory.iterdir()):
            directory.rmdir()


def remove_paths(root: Path, patterns: tuple[str, ...]) -> None:
    """Delete what each glob pattern matches under ``root``; a pattern matching nothing is an error."""
    for pattern in patterns:
        found = sorted(root.glob(pattern))
        if not found:
            raise LocalBundlingError(
                f"cannot prune {pattern!r}: nothing matches it in {root}; update PRUNED_PATHS"
            )
        for path in found:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def keep_botocore_models(root: Path, services: tuple[str, ...], also: Iterable[str] = ()) -> None:
    """Delete every botocore service model under ``root`` except those of ``services`` and of ``also``.

    Each of ``services`` must have a model; a name of ``also`` (what the team's tools name) without one is
    not a service botocore knows, and its call fails the same locally.
    """
    data = root / "botocore" / "data"
    installed = {path.name for path in data.iterdir() if path.is_dir()} if data.is_dir() else set()
    missing = sorted(set(services) - installed)
    if missing:
        raise LocalBundlingError(f"botocore in {root} has no model for {', '.join(missing)}")
    for service in sorted(installed - set(services) - set(also)):
        shutil.rmtree(data / service)


def keep_boto3_resource_models(root: Path, services: Iterable[str]) -> None:
    """Delete boto3's resource models under ``root`` but those of ``services``, and their folder once empty.

    The function itself makes only clients; the team's tools may make resources.
    """
    data = root / "boto3" / "data"
    if not data.is_dir():
        raise LocalBundlingError(f"boto3 in {root} has no resource models (boto3/data): is boto3 installed?")
    kept = set(services)
    for path in data.iterdir():
        if path.name in kept:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if not any(data.iterdir()):
        data.rmdir()
