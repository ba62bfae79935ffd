"""Fixtures of the infrastructure tests: the app is synthesized once per session, bundling skipped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.infra_support import WEIGHTS_ENV, Synthesized, put_supported_node_first_on_path, synthesize

# Before anything imports aws_cdk (which starts the jsii Node process).
put_supported_node_first_on_path()


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every environment of ``cdk.json`` (dev and prod), synthesized once."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Callable[[str], dict[str, Any]]:
    """Look up the synthesized template of an environment by its name."""

    def lookup(environment: str) -> dict[str, Any]:
        return synthesized.templates[f"SageMakerAgent-{environment}"]

    return lookup


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The template of an environment unlike dev and prod (``WEIGHTS_ENV``)."""
    synthesized = synthesize(
        tmp_path_factory.mktemp("weights.out"), env="weights", environments={"weights": WEIGHTS_ENV}
    )
    return synthesized.templates["SageMakerAgent-weights"]
