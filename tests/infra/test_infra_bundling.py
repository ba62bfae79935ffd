"""Docker-free Lambda bundling: the exact pip command, the copied sources, and clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.agent_api import bundling
from stacks.agent_api.bundling import LocalBundlingError, PipLocalBundling

pytestmark = pytest.mark.infra


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
    (root / "requirements.txt").write_text("tiny-package==1.0\n")
    return root


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record pip invocations instead of downloading wheels (tests stay offline)."""
    calls: list[list[str]] = []

    def fake_run(command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(bundling.subprocess, "run", fake_run)
    return calls


@pytest.mark.parametrize(
    ("architecture", "platform"), [("arm64", "manylinux2014_aarch64"), ("x86_64", "manylinux2014_x86_64")]
)
def test_pip_installs_binary_wheels_for_the_function_platform(
    source: Path, architecture: str, platform: str
) -> None:
    bundler = PipLocalBundling(source, architecture=architecture, python_version="3.13")
    assert bundler.pip_command("/out") == [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(source / "requirements.txt"),
        "--target", "/out",
        "--platform", platform,
        "--implementation", "cp",
        "--python-version", "3.13",
        "--only-binary=:all:",
        "--quiet", "--disable-pip-version-check", "--no-compile",
    ]  # fmt: skip


def test_unknown_architecture_is_rejected(source: Path) -> None:
    with pytest.raises(ValueError, match="architecture must be one of arm64, x86_64, got 'riscv'"):
        PipLocalBundling(source, architecture="riscv", python_version="3.13")


def test_bundle_copies_sources_without_tests_caches_or_requirements(
    source: Path, tmp_path: Path, pip_calls: list[list[str]]
) -> None:
    out = tmp_path / "out"
    assert PipLocalBundling(source, architecture="arm64", python_version="3.13").try_bundle(str(out)) is True
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["agent_api/app.py", "run.sh"]
    assert (out / "run.sh").stat().st_mode & 0o111
    assert len(pip_calls) == 1


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
    source: Path, tmp_path: Path, pip_calls: list[list[str]]
) -> None:
    from aws_cdk import App, BundlingOptions, Stack
    from aws_cdk import aws_lambda as lambda_

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
    assert pip_calls[0][pip_calls[0].index("--target") + 1] != str(
        asset_dir
    )  # CDK bundles into a staging dir


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
