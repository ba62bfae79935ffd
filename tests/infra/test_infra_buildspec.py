"""container/buildspec.yml builds and pushes the image from the CodeBuild variables the stack sets."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.infra_support import ROOT

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def buildspec() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "container" / "buildspec.yml").read_text()))


def commands(buildspec: dict[str, Any], phase: str) -> list[str]:
    return list(buildspec["phases"][phase]["commands"])


def test_logs_in_to_the_repository_registry(buildspec: dict[str, Any]) -> None:
    (login,) = [c for c in commands(buildspec, "pre_build") if "docker login" in c]
    assert login.startswith("aws ecr get-login-password")
    assert login.endswith('--password-stdin "${REPOSITORY_URI%%/*}"')


def test_builds_the_engine_from_the_base_registry_into_the_content_tag(buildspec: dict[str, Any]) -> None:
    (build,) = [c for c in commands(buildspec, "build") if c.startswith("docker build")]
    assert build == (
        'docker build --progress=plain --build-arg ENGINE="$SERVE_ENGINE" '
        '--build-arg BASE_REGISTRY="$BASE_REGISTRY" -t "$REPOSITORY_URI:$IMAGE_TAG" . 2>&1 | tee build.log'
    )


def test_prints_the_base_image_digest_it_resolved(buildspec: dict[str, Any]) -> None:
    assert any('grep -o "FROM [^ ]*@sha256:[0-9a-f]*" build.log' in c for c in commands(buildspec, "build"))


def test_pushes_only_after_a_successful_build(buildspec: dict[str, Any]) -> None:
    post_build = commands(buildspec, "post_build")
    assert post_build[-1] == 'docker push "$REPOSITORY_URI:$IMAGE_TAG"'
    assert any('"$CODEBUILD_BUILD_SUCCEEDING" != "1"' in c and "exit 1" in c for c in post_build[:-1])


def test_the_base_image_is_primed_before_the_build_pulls_it(buildspec: dict[str, Any]) -> None:
    build = commands(buildspec, "build")
    prime = build.index("bash prime_base_image.sh Dockerfile")
    assert prime < next(i for i, c in enumerate(build) if c.startswith("docker build"))


# --- container/prime_base_image.sh, against a stand-in for the docker CLI -----------------------------------

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dev-docker-hub/"
TAG = "lmsysorg/sglang:v0.5.18-cu130"
PINNED = "sha256:" + "a" * 64
REPUSHED = "sha256:" + "b" * 64
# Answers `docker pull <ref>` like the real CLI's last line ("Digest: ..."), and logs every call. A reference
# by digest is found only if it is listed in $CACHED_DIGESTS.
FAKE_DOCKER = """#!/usr/bin/env bash
echo "$*" >> "$DOCKER_LOG"
case "$2" in
  *@sha256:*) case " $CACHED_DIGESTS " in *" ${2#*@} "*) exit 0;; *) echo "not found" >&2; exit 1;; esac;;
  *) echo "Status: Downloaded newer image for $2"; echo "Digest: $TAG_DIGEST";;
esac
"""


@dataclass
class Primed:
    """What one run of the script did: its exit status, its output, and the docker commands it ran."""

    status: int
    output: str
    docker: list[str]


def prime(
    tmp_path: Path, from_line: str, *, registry: str = REGISTRY, tag_digest: str = PINNED, cached: str = ""
) -> Primed:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f'ARG BASE_REGISTRY=""\n{from_line}\nFROM ${{BASE_REGISTRY}}vllm/vllm-openai:v0.32.0 AS vllm\n'
    )
    log = tmp_path / "docker.log"
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "BASE_REGISTRY": registry,
        "SERVE_ENGINE": "sglang",
        "DOCKER_LOG": str(log),
        "TAG_DIGEST": tag_digest,
        "CACHED_DIGESTS": cached,
    }
    done = subprocess.run(
        ["bash", str(ROOT / "container" / "prime_base_image.sh"), str(dockerfile)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    docker = log.read_text().splitlines() if log.exists() else []
    return Primed(done.returncode, done.stdout + done.stderr, docker)


def test_a_digest_pin_is_pulled_by_its_tag_first_which_fills_the_cache(tmp_path: Path) -> None:
    primed = prime(tmp_path, f"FROM ${{BASE_REGISTRY}}{TAG}@{PINNED} AS sglang")
    assert (primed.status, primed.docker) == (0, [f"pull {REGISTRY}{TAG}"])


def test_a_tag_pushed_again_upstream_passes_while_the_cache_still_holds_the_pin(tmp_path: Path) -> None:
    primed = prime(
        tmp_path, f"FROM ${{BASE_REGISTRY}}{TAG}@{PINNED} AS sglang", tag_digest=REPUSHED, cached=PINNED
    )
    assert primed.status == 0
    assert primed.docker == [f"pull {REGISTRY}{TAG}", f"pull {REGISTRY}lmsysorg/sglang@{PINNED}"]


def test_a_tag_pushed_again_upstream_stops_the_build_when_the_pin_was_never_cached(tmp_path: Path) -> None:
    primed = prime(tmp_path, f"FROM ${{BASE_REGISTRY}}{TAG}@{PINNED} AS sglang", tag_digest=REPUSHED)
    assert primed.status == 1
    assert f"the tag {TAG} was pushed again upstream (now {REPUSHED})" in primed.output


@pytest.mark.parametrize(
    ("from_line", "registry"),
    [
        (f"FROM ${{BASE_REGISTRY}}{TAG} AS sglang", REGISTRY),
        (f"FROM ${{BASE_REGISTRY}}{TAG}@{PINNED} AS sglang", ""),
    ],
)
def test_a_tag_pin_or_docker_hub_needs_no_priming(tmp_path: Path, from_line: str, registry: str) -> None:
    primed = prime(tmp_path, from_line, registry=registry)
    assert (primed.status, primed.docker) == (0, [])


@pytest.mark.parametrize(
    ("from_line", "message"),
    [
        (f"FROM ${{BASE_REGISTRY}}lmsysorg/sglang@{PINNED} AS sglang", "pinned by digest without its tag"),
        (f"FROM ${{BASE_REGISTRY}}{TAG} AS other", "no 'FROM ${BASE_REGISTRY}<image> AS sglang' line"),
    ],
)
def test_a_pin_the_cache_cannot_fill_fails_with_the_reason(
    tmp_path: Path, from_line: str, message: str
) -> None:
    primed = prime(tmp_path, from_line)
    assert (primed.status, primed.docker) == (1, [])
    assert message in primed.output


def test_the_shipped_dockerfile_primes_cleanly(tmp_path: Path) -> None:
    # Whatever container/Dockerfile pins (a tag today, a tag and digest once pinned), the script reads it.
    from_line = next(
        line
        for line in (ROOT / "container" / "Dockerfile").read_text().splitlines()
        if line.endswith(" AS sglang")
    )
    digest = from_line.split("@", 1)[1].split()[0] if "@" in from_line else PINNED
    assert prime(tmp_path, from_line, tag_digest=digest).status == 0
