"""Fixtures of the provider tests."""

from collections.abc import Iterator

import pytest

from tests.support.sagemaker_runtime import SageMakerRuntime


@pytest.fixture
def endpoint() -> Iterator[SageMakerRuntime]:
    """The SageMaker runtime emulator before a scripted container, for one test."""
    with SageMakerRuntime() as runtime:
        yield runtime
