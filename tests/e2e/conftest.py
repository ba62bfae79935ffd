"""The real local stack, started once per session: vLLM CPU on the tiny model, and two agent APIs on it.

One agent API has no tools (the tiny model then answers text), the other has the agent API's default tools
(the tiny model then calls ``get_weather``). Each has its own emulator, so faults set by a test touch only
the stack it uses; every test starts with no faults.

The ``qwen3`` profile's tests use a second vLLM server, started with that profile (vLLM's ``hermes``
tool-call parser and ``qwen3`` reasoning parser) and two agent APIs on it (no tools, default tools), only
when they run: vLLM's ``<think>`` parser reads any answer without ``</think>`` as reasoning, and the tiny
model writes ``<think>`` only when asked to ponder, so the first server runs the default ``llama3`` profile
(no reasoning parser).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome

from agent_api.settings import Settings
from local.agent_environment import LOCAL_TOOLS, agent_environment
from local.emulator import Faults, Invocation
from local.stack import LocalDeployment
from local.tiny_model import build
from local.vllm_server import VllmServer
from tests.e2e.browser import chromium


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(Path(tmp_path_factory.mktemp("tiny-model")))


@pytest.fixture(scope="session")
def vllm_url(tiny_model_dir: Path) -> Iterator[str]:
    with VllmServer(tiny_model_dir) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def qwen3_vllm_url(tiny_model_dir: Path) -> Iterator[str]:
    with VllmServer(tiny_model_dir, profile="qwen3") as server:
        yield server.base_url


@pytest.fixture(scope="session")
def reasoning_stack(qwen3_vllm_url: str) -> Iterator[LocalDeployment]:
    with LocalDeployment(backend_url=qwen3_vllm_url, tools="", profile="qwen3") as stack:
        yield stack


@pytest.fixture(scope="session")
def qwen3_tools_stack(qwen3_vllm_url: str) -> Iterator[LocalDeployment]:
    with LocalDeployment(backend_url=qwen3_vllm_url, profile="qwen3") as stack:
        yield stack


@pytest.fixture(scope="session")
def text_stack(vllm_url: str) -> Iterator[LocalDeployment]:
    with LocalDeployment(backend_url=vllm_url, tools="") as stack:
        yield stack


@pytest.fixture(scope="session")
def tools_stack(vllm_url: str) -> Iterator[LocalDeployment]:
    with LocalDeployment(backend_url=vllm_url) as stack:
        yield stack


@pytest.fixture
def text_api(text_stack: LocalDeployment) -> Iterator[LocalDeployment]:
    yield text_stack
    text_stack.emulator.set_faults(Faults())


@pytest.fixture
def tools_api(tools_stack: LocalDeployment) -> Iterator[LocalDeployment]:
    yield tools_stack
    tools_stack.emulator.set_faults(Faults())


@pytest.fixture
def text_model_calls(text_api: LocalDeployment) -> Iterator[list[Invocation]]:
    """The invocations the text stack's emulator reads during the test: what the model is sent."""
    calls: list[Invocation] = []
    text_api.emulator.on_invocation = calls.append
    yield calls
    text_api.emulator.on_invocation = None


@pytest.fixture
def in_process_settings(tools_api: LocalDeployment, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of an agent API run in this process on the tools stack's emulator and S3, for a test that
    puts something in front of the app (an API Gateway stage, a Cognito authorizer)."""
    environment = agent_environment(tools_api.emulator.url, tools_api.s3_url, LOCAL_TOOLS)
    for name, value in environment.items():
        if name.startswith("AWS_"):  # the emulator, moto's S3 and dummy credentials, for botocore
            monkeypatch.setenv(name, value)
    return Settings.from_env(environment)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chrome]:
    """Headless Chromium with a fresh profile, for the chat page's tests."""
    with chromium(tmp_path / "profile") as driver:
        yield driver
