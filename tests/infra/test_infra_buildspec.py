"""container/buildspec.yml builds and pushes the image from the CodeBuild variables the stack sets."""

from __future__ import annotations

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
