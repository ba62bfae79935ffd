"""Fixtures: a scripted model container (or OpenAI server) and an emulator in front of it, reached by real
boto3 clients."""

from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator import Emulator, Endpoint
from tests.support.bedrock_runtime import BedrockRuntime
from tests.support.sagemaker_runtime import ENDPOINT, sagemaker_client
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def container() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def emulator(container: ScriptedServer) -> Iterator[Emulator]:
    with Emulator({ENDPOINT: Endpoint(container.url)}, backend_timeout=5.0) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Any:
    """A client that does not retry, so every error reaches the test."""
    return sagemaker_client(emulator.url)


@pytest.fixture
def bedrock() -> Iterator[BedrockRuntime]:
    """The emulator answering Converse for ``MODEL_ID`` from a scripted server (script ``bedrock.server``)."""
    with BedrockRuntime(backend_timeout=5.0) as runtime:
        yield runtime
