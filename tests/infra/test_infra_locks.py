"""The requirement locks: complete, hashed, true to their inputs, and one version of a package everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.infra.lock_support import (
    CDK_LOCK,
    DEV_LOCK,
    LAMBDA_LOCK,
    LOCKS,
    ROOT,
    VLLM_LOCK,
    input_requirements,
    lock_entries,
    lock_pins,
)

INPUTS = {
    LAMBDA_LOCK: ROOT / "lambda" / "requirements.in",
    CDK_LOCK: ROOT / "requirements.in",
    DEV_LOCK: ROOT / "requirements-dev.in",
    VLLM_LOCK: ROOT / "local" / "requirements-vllm.in",
}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_locked_package_is_pinned_to_one_version_with_hashes(lock: Path) -> None:
    entries = lock_entries(lock)
    assert entries
    unpinned = [
        str(e.requirement) for e in entries if [s.operator for s in e.requirement.specifier] != ["=="]
    ]
    unhashed = [e.name for e in entries if not e.hashes or not all(h.startswith("sha256:") for h in e.hashes)]
    assert (unpinned, unhashed) == ([], [])


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_input_requirement_is_locked_at_a_version_it_allows(lock: Path) -> None:
    pins = lock_pins(lock)
    wrong = {
        str(requirement): pins.get(canonicalize_name(requirement.name))
        for requirement in input_requirements(INPUTS[lock])
        if not any(
            requirement.specifier.contains(v) for v in pins.get(canonicalize_name(requirement.name), [])
        )
    }
    assert wrong == {}


@pytest.mark.parametrize("lock", [DEV_LOCK, CDK_LOCK], ids=["requirements-dev.txt", "requirements.txt"])
def test_a_package_shared_with_the_lambda_has_the_lambda_locks_version(lock: Path) -> None:
    lambda_pins = lock_pins(LAMBDA_LOCK)
    other = lock_pins(lock)
    assert {name: other[name] for name in lambda_pins.keys() & other.keys()} == {
        name: lambda_pins[name] for name in lambda_pins.keys() & other.keys()
    }


def test_the_cdk_lock_is_the_dev_locks_cdk_part() -> None:
    dev = lock_pins(DEV_LOCK)
    cdk = lock_pins(CDK_LOCK)
    assert {name: dev.get(name) for name in cdk} == cdk


def test_the_lambda_lock_is_resolved_for_the_function_runtime(lambda_runtime_version: str) -> None:
    command = LAMBDA_LOCK.read_text().splitlines()[1]
    assert f"--python-version {lambda_runtime_version} " in f"{command} "
    assert "--python-platform aarch64-manylinux2014" in command  # bundling installs it for x86_64 too


def test_the_vllm_lock_leaves_out_the_builds_that_cannot_load_beside_cpu_torch() -> None:
    pins = lock_pins(VLLM_LOCK)
    assert pins["torch"] == ["2.13.0+cpu"]
    assert not {"torchvision", "torchaudio", "torchcodec"} & pins.keys()
