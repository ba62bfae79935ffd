"""The function's real Lambda bundles (`stacks/agent_api/bundling.py`), built once per architecture
(`lambda_bundle`, tests/conftest.py): their size, what they hold and prune, and the x86_64 bundle run on the
function's Python with nothing but the standard library beside it.
"""

from __future__ import annotations

import ast
import json
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name as canonical

from stacks.agent_api.bundling import (
    AWS_SERVICES,
    MAX_BUNDLE_BYTES,
    MIB,
    PRUNED_DISTRIBUTIONS,
    PRUNED_PATHS,
    bundle_size,
    installed_distributions,
)
from tests.infra.infra_support import files_under
from tests.infra.lock_support import LAMBDA_LOCK, lock_dependents, lock_pins

pytestmark = pytest.mark.infra

ARCHITECTURES = ("arm64", "x86_64")
# Modules left in the bundle that import a pruned distribution or path without an ImportError guard, each
# with the reason no code path of the function reaches it (nor the modules importing them in turn). Any other
# module importing one fails the test.
UNREACHABLE_IMPORTERS = {
    "aws_lambda_powertools/shared/functions.py": "pydantic_to_dict, for Powertools' event-logging "
    "decorators, which the function does not use",
    "mcp/client/auth/extensions/client_credentials.py": "mcp's OAuth providers: the agent's OAuth client is "
    "its own (agent_api.mcp_auth), authenticating with HTTP Basic, no JWT",
    "cffi/cparser.py": "cffi's C declaration parser, for building bindings; cryptography loads only cffi's "
    "compiled backend",
    "pydantic/_internal/_generate_schema.py": "imports pydantic.v1 only for a type with a version 1 "
    "`__get_validators__` and no version 2 schema, which no package in the bundle defines",
    "yaml/cyaml.py": "imported by yaml only under an ImportError guard: without libyaml it parses in pure "
    "Python",
}
# The pruned distributions' dependents, each of which never imports it on a path the function takes.
PRUNED_DEPENDENTS = {
    "pyjwt": ["mcp"],
    "pycparser": ["cffi"],
    "googleapis-common-protos": ["opentelemetry-exporter-otlp-proto-http"],
}


# --- the function's real bundles -------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_bundle_fits_the_size_limit(lambda_bundle: Callable[[str], Path], architecture: str) -> None:
    size = bundle_size(lambda_bundle(architecture))
    assert size <= MAX_BUNDLE_BYTES, f"{size / MIB:.1f} MiB > {MAX_BUNDLE_BYTES / MIB:.1f} MiB"


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_bundle_holds_the_lock_minus_the_pruned_distributions(
    lambda_bundle: Callable[[str], Path], architecture: str
) -> None:
    bundle = lambda_bundle(architecture)
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in installed_distributions(bundle)}
    locked = {name: versions[0] for name, versions in lock_pins(LAMBDA_LOCK).items()}
    assert installed == {
        name: version for name, version in locked.items() if name not in PRUNED_DISTRIBUTIONS
    }


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_bundle_holds_botocore_models_of_the_called_services_only(
    lambda_bundle: Callable[[str], Path], architecture: str
) -> None:
    data = lambda_bundle(architecture) / "botocore" / "data"
    assert sorted(path.name for path in data.iterdir() if path.is_dir()) == sorted(AWS_SERVICES)
    # botocore's shared files: endpoints and partitions, retry rules, default configuration.
    assert {"endpoints.json", "partitions.json", "_retry.json", "sdk-default-configuration.json"} <= {
        path.name for path in data.iterdir()
    }


def test_both_architectures_bundle_the_same_modules(lambda_bundle: Callable[[str], Path]) -> None:
    def modules(architecture: str, machine: str) -> set[str]:
        root = lambda_bundle(architecture)
        return {name.replace(machine, "<machine>") for name in files_under(root) if ".dist-info/" not in name}

    assert modules("arm64", "aarch64") == modules("x86_64", "x86_64")


def _pruned_modules() -> set[str]:
    """Dotted names of what is pruned: the pruned distributions' packages (read from this environment's same
    versions; in a namespace package a kept distribution shares, like protobuf's `google`, their subpackages)
    and the modules of the pruned paths."""
    provided = metadata.packages_distributions()
    modules = set()
    for name in PRUNED_DISTRIBUTIONS:
        for file in metadata.distribution(name).files or ():
            parts = file.with_suffix("").parts
            if file.suffix != ".py" or ".." in parts:
                continue
            shared = any(canonical(owner) not in PRUNED_DISTRIBUTIONS for owner in provided.get(parts[0], ()))
            modules.add(".".join(parts[: 2 if shared else 1]))
    # A glob prunes compiled modules whose Python twins stay and load in their place (charset_normalizer's).
    paths = {pattern.split(".")[0].replace("/", ".") for pattern in PRUNED_PATHS}
    return modules | {path for path in paths if "*" not in path}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits in a ``try`` that catches ImportError (or is only for type checkers)."""
    caught = {"ImportError", "ModuleNotFoundError", "Exception"}
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if handler.type is None or any(ast.unparse(kind) in caught for kind in types if kind):
                    return True
    return False


def _unguarded_importers(bundle: Path, modules: set[str]) -> dict[str, set[str]]:
    """Files of ``bundle`` importing one of ``modules`` outside an ImportError guard, with those modules."""
    found: dict[str, set[str]] = {}
    for path in bundle.rglob("*.py"):
        tree = ast.parse(path.read_bytes())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            hits = {module for name in names for module in modules if f"{name}.".startswith(f"{module}.")}
            if hits and not _guarded(node, parents):
                found.setdefault(path.relative_to(bundle).as_posix(), set()).update(hits)
    return found


def test_only_unreachable_modules_import_a_pruned_distribution(lambda_bundle: Callable[[str], Path]) -> None:
    importers = _unguarded_importers(lambda_bundle("arm64"), _pruned_modules())
    unexplained = {
        path: sorted(modules)
        for path, modules in importers.items()
        if not path.startswith(tuple(UNREACHABLE_IMPORTERS))
    }
    assert unexplained == {}
    # Each reason still explains something: a stale entry would hide nothing but mislead.
    assert {
        prefix for prefix in UNREACHABLE_IMPORTERS if any(p.startswith(prefix) for p in importers)
    } == set(UNREACHABLE_IMPORTERS)


def test_pruned_distributions_are_required_only_by_dependents_that_never_import_them() -> None:
    required_by = lock_dependents(LAMBDA_LOCK)
    outside = {name: sorted(required_by[name] - set(PRUNED_DISTRIBUTIONS)) for name in PRUNED_DISTRIBUTIONS}
    assert outside == PRUNED_DEPENDENTS


# --- the x86_64 bundle on the function's Python, with nothing but the standard library beside it -----

PROBE = """
import importlib, json, sys
report = {"path": sys.path, "failed": {}}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as error:
        report["failed"][name] = repr(error)
import yaml
report["yaml"] = [yaml.__with_libyaml__, yaml.safe_load("a: [1, 2]")]
import charset_normalizer, charset_normalizer.md
best = charset_normalizer.from_bytes("héllo".encode()).best()
report["charset_normalizer"] = [charset_normalizer.md.__file__.rsplit("/", 1)[-1], str(best)]
import boto3
session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
report["services"] = session.get_available_services()
report["clients"] = [type(session.client(name)).__name__ for name in report["services"]]
print(json.dumps(report))
"""


def _top_level_modules(bundle: Path) -> list[str]:
    names = set()
    for path in bundle.iterdir():
        name = path.name.split(".")[0]
        if path.suffix in (".py", ".so") or (path.is_dir() and path.name.isidentifier()):
            names.add(name)
    return sorted(names - {"bin"})


@pytest.fixture(scope="module")
def probe(lambda_bundle: Callable[[str], Path], lambda_python: str) -> dict[str, Any]:
    """Import every top-level module of the x86_64 bundle, and the app's module, on the Lambda's Python."""
    if platform.machine() != "x86_64":
        pytest.skip("the x86_64 bundle's compiled modules load only on x86_64")
    bundle = lambda_bundle("x86_64")
    # -S: no site-packages; -E: no PYTHON* variables; -B: leave no bytecode in the bundle.
    result = subprocess.run(
        [
            lambda_python,
            "-S",
            "-E",
            "-B",
            "-c",
            PROBE,
            *_top_level_modules(bundle),
            "agent_api.app",
            "agent_api.tool_sources",
            "team_tools.units",
        ],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_bundle_is_run_with_only_the_standard_library_beside_it(
    probe: dict[str, Any], lambda_python: str
) -> None:
    stdlib = subprocess.run(
        [lambda_python, "-S", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    prefix = str(Path(stdlib).parent)
    assert probe["path"][0] == ""  # the bundle, the working directory
    assert all(entry.startswith(prefix) for entry in probe["path"][1:]), probe["path"]


def test_every_top_level_module_of_the_bundle_imports(probe: dict[str, Any]) -> None:
    assert probe["failed"] == {}


def test_yaml_parses_in_pure_python_without_its_pruned_accelerator(probe: dict[str, Any]) -> None:
    assert probe["yaml"] == [False, {"a": [1, 2]}]


def test_charset_normalizer_runs_in_pure_python_without_its_pruned_compiled_modules(
    probe: dict[str, Any],
) -> None:
    assert probe["charset_normalizer"] == ["md.py", "héllo"]


def test_bundled_botocore_creates_a_client_for_each_called_service_and_knows_no_other(
    probe: dict[str, Any],
) -> None:
    assert probe["services"] == sorted(AWS_SERVICES)
    assert probe["clients"] == ["BedrockRuntime", "S3", "SageMaker", "SageMakerRuntime", "SecretsManager"]
