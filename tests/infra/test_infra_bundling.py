"""Docker-free Lambda bundling (`stacks/agent_api/bundling.py`): the pip command, pruning, the size limit and
the asset's hash, with pip replaced by a miniature install (offline). The function's real bundles are
test_infra_lambda_bundle.py's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name as canonical

from stacks.agent_api import bundling
from stacks.agent_api.bundling import (
    AWS_SERVICES,
    MAX_BUNDLE_BYTES,
    MIB,
    PRUNED_DISTRIBUTIONS,
    PRUNED_PATHS,
    LocalBundlingError,
    PipLocalBundling,
    installed_distributions,
    remove_distribution,
)
from tests.infra.infra_support import files_under

pytestmark = pytest.mark.infra
# Files of the miniature install beside its pruned paths, which bundling keeps.
KEPT_BESIDE_PRUNED_PATHS = (
    "aws_lambda_powertools/logging.py",
    "aws_lambda_powertools/utilities/jmespath_utils/__init__.py",
    "yaml/__init__.py",
    "charset_normalizer/md.py",
    "boto3/session.py",
    "pydantic/main.py",
    "jsonschema/validators.py",
    "referencing/_core.py",
)


# --- bundling with pip replaced by a miniature install ---------------------------------------------


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A tiny Lambda source tree with the kinds of files bundling must skip."""
    root = tmp_path / "lambda"
    (root / "agent_api" / "__pycache__").mkdir(parents=True)
    (root / "agent_api" / "app.py").write_text("app = None\n")
    (root / "agent_api" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text("")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "requirements.in").write_text("tiny-package\n")
    (root / "requirements.txt").write_text("tiny-package==1.0 --hash=sha256:00\n")
    return root


def _install_distribution(target: Path, name: str, *, script: bool = False) -> None:
    """Install a one-module distribution the way pip --target does, RECORD (and a script) included."""
    module = canonical(name).replace("-", "_")
    dist_info = target / f"{module}-1.0.dist-info"
    (target / module).mkdir(parents=True)
    dist_info.mkdir()
    (target / module / "__init__.py").write_text("")
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    record = [f"{module}/__init__.py,,", f"{dist_info.name}/METADATA,,", f"{dist_info.name}/RECORD,,"]
    if script:
        (target / "bin").mkdir(exist_ok=True)
        (target / "bin" / f"{module}-tool").write_text("#!/bin/sh\n")
        record.append(f"../../bin/{module}-tool,,")
    (dist_info / "RECORD").write_text("\n".join(record) + "\n")


def miniature_install(target: Path, *, services: tuple[str, ...] = (*AWS_SERVICES, "ec2", "iam")) -> None:
    """What pip leaves in --target, in miniature: botocore's models, kept and pruned distributions."""
    data = target / "botocore" / "data"
    for service in services:
        (data / service / "2020-01-01").mkdir(parents=True)
        (data / service / "2020-01-01" / "service-2.json.gz").write_bytes(b"\0" * 100)
    (data / "endpoints.json").write_text("{}")
    (target / "botocore" / "__init__.py").write_text("")
    for service in ("dynamodb", "s3", "iam"):
        (target / "boto3" / "data" / service / "2015-01-01").mkdir(parents=True)
        (target / "boto3" / "data" / service / "2015-01-01" / "resources-1.json").write_text("{}")
    _install_distribution(target, "kept-package", script=True)
    for name in PRUNED_DISTRIBUTIONS:
        _install_distribution(target, name, script=True)
    # Each pruned path: a file for a glob (a compiled module, a stub, a C source), a package for a directory;
    # and what stays beside them.
    for pattern in PRUNED_PATHS:
        path = target / pattern.replace("**", "pydantic").replace("*", "cpython-313-x86_64-linux-gnu")
        path.parent.mkdir(parents=True, exist_ok=True)
        if "*" in pattern:
            path.write_bytes(b"\0")
        else:
            path.mkdir()
            (path / "__init__.py").write_text("")
    for kept in KEPT_BESIDE_PRUNED_PATHS:
        (target / kept).parent.mkdir(parents=True, exist_ok=True)
        (target / kept).write_text("")


PipRun = Callable[[Path], None]


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[PipRun], list[list[str]]]:
    """``pip_calls(install)``: pip is replaced by ``install(target)``; returns the recorded commands."""

    def replace(install: PipRun) -> list[list[str]]:
        calls: list[list[str]] = []

        def fake_run(command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
            calls.append(command)
            install(Path(command[command.index("--target") + 1]))
            return subprocess.CompletedProcess(command, 0, "", "")

        monkeypatch.setattr(bundling.subprocess, "run", fake_run)
        return calls

    return replace


@pytest.mark.parametrize(
    ("architecture", "platform_tag"), [("arm64", "manylinux2014_aarch64"), ("x86_64", "manylinux2014_x86_64")]
)
def test_pip_installs_the_locked_binary_wheels_for_the_function_platform(
    source: Path, architecture: str, platform_tag: str
) -> None:
    bundler = PipLocalBundling(source, architecture=architecture, python_version="3.13")
    assert bundler.pip_command("/out") == [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(source / "requirements.txt"),
        "--require-hashes",
        "--target", "/out",
        "--platform", platform_tag,
        "--implementation", "cp",
        "--python-version", "3.13",
        "--only-binary=:all:",
        "--quiet", "--disable-pip-version-check", "--no-compile",
    ]  # fmt: skip


def test_unknown_architecture_is_rejected(source: Path) -> None:
    with pytest.raises(ValueError, match="architecture must be one of arm64, x86_64, got 'riscv'"):
        PipLocalBundling(source, architecture="riscv", python_version="3.13")


def test_bundle_copies_sources_without_tests_caches_or_requirements(
    source: Path, tmp_path: Path, pip_calls: Callable[[PipRun], list[list[str]]]
) -> None:
    calls = pip_calls(miniature_install)
    out = tmp_path / "out"
    assert PipLocalBundling(source, architecture="arm64", python_version="3.13").try_bundle(str(out)) is True
    files = files_under(out)
    assert {"agent_api/app.py", "run.sh"} <= files
    assert not {
        name for name in files if name.startswith(("tests/", "requirements")) or "__pycache__" in name
    }
    assert (out / "run.sh").stat().st_mode & 0o111
    assert len(calls) == 1


@pytest.fixture
def bundle(
    source: Path, tmp_path: Path, pip_calls: Callable[[PipRun], list[list[str]]]
) -> Callable[..., Path]:
    """``bundle(install, architecture, **options)``: bundle ``source`` with pip replaced by ``install``."""

    def run(install: PipRun = miniature_install, architecture: str = "arm64", **options: Any) -> Path:
        pip_calls(install)
        out = tmp_path / "out"
        bundler = PipLocalBundling(source, architecture=architecture, python_version="3.13", **options)
        bundler.try_bundle(str(out))
        return out

    return run


def test_bundle_keeps_the_botocore_models_of_the_called_services_and_the_sharedfiles_under(
    bundle: Callable[..., Path],
) -> None:
    data = bundle() / "botocore" / "data"
    assert sorted(path.name for path in data.iterdir()) == sorted([*AWS_SERVICES, "endpoints.json"])


def test_bundle_keeps_the_models_of_the_services_the_team_tools_make_clients_and_resources_of(
    source: Path, bundle: Callable[..., Path]
) -> None:
    (source / "team_tools").mkdir()
    (source / "team_tools" / "infra.py").write_text(
        "import boto3\n"
        'EC2 = boto3.client("ec2")\n'
        'ROLES = boto3.resource("iam")\n'
        'boto3.client("no-such-service")\n'
    )
    out = bundle()
    models = sorted(path.name for path in (out / "botocore" / "data").iterdir() if path.is_dir())
    assert models == sorted([*AWS_SERVICES, "ec2", "iam"])
    assert [path.name for path in (out / "boto3" / "data").iterdir()] == ["iam"]


def test_bundle_keeps_no_boto3_resource_model_when_no_team_tool_makes_a_resource(
    bundle: Callable[..., Path],
) -> None:
    assert not (bundle() / "boto3" / "data").exists()


def test_bundle_uninstalls_the_pruned_distributions_with_their_scripts_and_keeps_the_rest(
    bundle: Callable[..., Path],
) -> None:
    out = bundle()
    installed = {canonical(dist.metadata["Name"]) for dist in installed_distributions(out)}
    assert installed == {"kept-package"}
    assert {path.name for path in out.iterdir()} >= {"kept_package", "kept_package-1.0.dist-info"}
    assert [path.name for path in (out / "bin").iterdir()] == ["kept_package-tool"]


def test_bundle_fails_when_botocore_lacks_a_model_the_function_needs(bundle: Callable[..., Path]) -> None:
    missing = r"has no model for bedrock-runtime, sagemaker, sagemaker-runtime"
    with pytest.raises(LocalBundlingError, match=missing):
        bundle(lambda target: miniature_install(target, services=("s3", "ec2")))


def test_bundle_fails_when_a_distribution_to_prune_is_not_installed(bundle: Callable[..., Path]) -> None:
    def without_pyjwt(target: Path) -> None:
        miniature_install(target)
        shutil.rmtree(target / "pyjwt")
        shutil.rmtree(target / "pyjwt-1.0.dist-info")

    with pytest.raises(
        LocalBundlingError, match=r"cannot prune 'pyjwt': 0 installed copies .*PRUNED_DISTRIBUTIONS"
    ):
        bundle(without_pyjwt)


def test_an_uninstalled_distribution_is_gone_though_the_folder_mtime_did_not_change(tmp_path: Path) -> None:
    # importlib.metadata lists a folder once per mtime, and changes within one tick of the file system's
    # coarse clock leave the mtime as it was: uninstalling pyjwt then looking for the next distribution met
    # pyjwt's vanished dist-info (no Name) once, in this file's miniature bundles.
    root = tmp_path / "target"
    _install_distribution(root, "kept-package")
    _install_distribution(root, "pyjwt")
    unchanged = root.stat().st_mtime_ns
    assert len(list(metadata.distributions(path=[str(root)]))) == 2  # the listing importlib.metadata keeps
    remove_distribution(root, "pyjwt")
    os.utime(root, ns=(unchanged, unchanged))  # as if within the same tick

    assert [canonical(dist.metadata["Name"]) for dist in installed_distributions(root)] == ["kept-package"]
    remove_distribution(root, "kept-package")
    assert installed_distributions(root) == []


def test_bundle_removes_the_pruned_paths_of_kept_distributions(bundle: Callable[..., Path]) -> None:
    files = files_under(bundle())
    assert files >= set(KEPT_BESIDE_PRUNED_PATHS)
    assert not {name for name in files if name.startswith("aws_lambda_powertools/event_handler/")}
    assert not {name for name in files if name.startswith("aws_lambda_powertools/utilities/parser/")}
    pruned = ("yaml/_yaml", "_yaml/", "boto3/data/", "pydantic/v1/")
    assert not {name for name in files if name.startswith(pruned)}
    assert not {name for name in files if name.endswith((".so", ".pyi", ".c", ".pyx", ".pxd"))}
    assert not {name for name in files if name.startswith(("jsonschema/tests/", "referencing/tests/"))}


def test_bundle_fails_when_a_path_to_prune_is_not_there(bundle: Callable[..., Path]) -> None:
    def without_libyaml(target: Path) -> None:
        miniature_install(target)
        (target / "yaml" / "_yaml.cpython-313-x86_64-linux-gnu.so").unlink()

    with pytest.raises(
        LocalBundlingError, match=r"cannot prune 'yaml/_yaml\.\*\.so': nothing matches .*PRUNED_PATHS"
    ):
        bundle(without_libyaml)


def test_bundle_above_the_size_limit_fails_naming_its_largest_parts(bundle: Callable[..., Path]) -> None:
    with pytest.raises(
        LocalBundlingError,
        match=r"Lambda bundle \(arm64\): 0\.0 MiB unzipped \(limit 0\.0 MiB\): too large; "
        r"largest parts: botocore 0\.0 MiB, ",
    ):
        bundle(max_bytes=100)


def test_bundle_size_is_printed(bundle: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    bundle(architecture="x86_64")
    assert (
        capsys.readouterr().err
        == f"Lambda bundle (x86_64): 0.0 MiB unzipped (limit {MAX_BUNDLE_BYTES / MIB:.1f} MiB)\n"
    )


def test_pip_failure_raises_with_pip_stderr(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_run(command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for tiny-package"
        )

    monkeypatch.setattr(bundling.subprocess, "run", failing_run)
    bundler = PipLocalBundling(source, architecture="arm64", python_version="3.13")
    with pytest.raises(
        LocalBundlingError, match=r"(?s)Lambda arm64 / Python 3.13 \(exit 1\):\nERROR: No matching"
    ):
        bundler.try_bundle(str(tmp_path / "out"))


def test_missing_requirements_file_is_reported(source: Path, tmp_path: Path) -> None:
    (source / "requirements.txt").unlink()
    bundler = PipLocalBundling(source, architecture="arm64", python_version="3.13")
    with pytest.raises(LocalBundlingError, match=r"requirements\.txt does not exist"):
        bundler.try_bundle(str(tmp_path / "out"))


def test_cdk_asset_is_bundled_locally_never_with_docker(
    source: Path, tmp_path: Path, pip_calls: Callable[[PipRun], list[list[str]]]
) -> None:
    from aws_cdk import App, BundlingOptions, Stack
    from aws_cdk import aws_lambda as lambda_

    calls = pip_calls(miniature_install)
    app = App(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="run.sh",
        code=lambda_.Code.from_asset(
            str(source),
            bundling=BundlingOptions(
                image=bundling.UNUSED_DOCKER_IMAGE,
                local=PipLocalBundling(source, architecture="arm64", python_version="3.13"),
            ),
        ),
    )
    app.synth()
    (asset_dir,) = (tmp_path / "cdk.out").glob("asset.*")
    assert (asset_dir / "agent_api" / "app.py").is_file()
    assert calls[0][calls[0].index("--target") + 1] != str(asset_dir)  # CDK bundles into a staging dir


def _staged_asset(source: Path, outdir: Path) -> str:
    """Synthesize a function of ``bundled_code(source)`` into ``outdir``; return its asset's name."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_

    app = App(outdir=str(outdir))
    lambda_.Function(
        Stack(app, "Bundled"),
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="run.sh",
        code=bundling.bundled_code(source, architecture="arm64", python_version="3.13"),
    )
    app.synth()
    (asset_dir,) = outdir.glob("asset.*")
    return asset_dir.name


def test_a_new_lock_alone_gives_the_function_a_new_asset(
    source: Path, tmp_path: Path, pip_calls: Callable[[PipRun], list[list[str]]]
) -> None:
    # CDK's own hash of a bundled asset leaves out requirements.txt (excluded from the copy): without the
    # bundler's hash, `cdk deploy` would keep the old dependencies.
    pip_calls(miniature_install)
    before = _staged_asset(source, tmp_path / "before")
    (source / "requirements.txt").write_text("tiny-package==1.1 --hash=sha256:11\n")

    assert _staged_asset(source, tmp_path / "after") != before


def test_the_bundle_hash_follows_what_the_bundle_is_built_from_and_nothing_else(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def asset_hash(architecture: str = "arm64") -> str:
        return PipLocalBundling(source, architecture=architecture, python_version="3.13").asset_hash()

    first = asset_hash()
    (source / "agent_api" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\1")
    (source / "tests" / "test_app.py").write_text("assert True\n")
    unchanged = asset_hash()
    other_platform = asset_hash("x86_64")
    monkeypatch.setattr(bundling, "AWS_SERVICES", (*AWS_SERVICES, "ec2"))
    other_models = asset_hash()
    monkeypatch.undo()
    (source / "agent_api" / "app.py").write_text("app = 1\n")
    other_source = asset_hash()

    (source / "team_tools").mkdir()
    (source / "team_tools" / "mine.py").write_text("# a team tool\n")
    with_team_tool = asset_hash()

    assert unchanged == first
    assert len({first, other_platform, other_models, other_source, with_team_tool}) == 5


def test_cdk_fails_with_the_pip_error_instead_of_trying_docker(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_cdk import App, BundlingOptions, Stack
    from aws_cdk import aws_lambda as lambda_

    def failing_run(command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version")

    monkeypatch.setattr(bundling.subprocess, "run", failing_run)
    app = App(outdir=str(tmp_path / "cdk.out"))
    # CDK bundles when the asset is bound to the function, i.e. while the construct is created.
    with pytest.raises(RuntimeError, match=r"(?s)pip could not install .*\nERROR: Could not find a version"):
        lambda_.Function(
            Stack(app, "Bundled"),
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="run.sh",
            code=lambda_.Code.from_asset(
                str(source),
                bundling=BundlingOptions(
                    image=bundling.UNUSED_DOCKER_IMAGE,
                    local=PipLocalBundling(source, architecture="arm64", python_version="3.13"),
                ),
            ),
        )
