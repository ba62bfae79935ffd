"""A model scaled to zero, woken by the agent API: real vLLM CPU behind an emulated inference component.

Each test gets its own emulator whose component starts with no copy (a woken copy stays), in front of the
session's vLLM server. The agent API runs in-process under uvicorn with a short warming policy, except in the
last test, which runs the local stack's own agent API (`lambda/run.sh`) with the production policy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from agent_api.app import create_app
from agent_api.settings import Settings
from agent_api.warming import WarmingPolicy
from local.agent_environment import COMPONENT_NAME, ENDPOINT_NAME
from local.emulator import Emulator, Endpoint
from local.stack import LocalDeployment
from local.tiny_model.script import PLAIN_TEXT
from tests.agent_api.harness import serve
from tests.e2e.sse_chat import ChatResult, chat
from tests.support.sagemaker_runtime import sagemaker_client, sagemaker_control_client

pytestmark = pytest.mark.e2e

POLL_SECONDS = 0.2


class ColdApi:
    """The agent API in front of an emulated endpoint whose inference component has no copy yet."""

    def __init__(self, url: str, emulator: Emulator) -> None:
        self.url = url
        self.emulator = emulator

    @property
    def copy_count_requests(self) -> list[int]:
        return self.emulator.components[COMPONENT_NAME].copy_count_requests


@pytest.fixture
def cold_api(vllm_url: str) -> Iterator[Callable[..., ColdApi]]:
    """`cold_api(warm_up_seconds, budget_seconds=60)`."""
    with ExitStack() as stack:

        def start(warm_up_seconds: float, budget_seconds: float = 60.0) -> ColdApi:
            emulator = stack.enter_context(
                Emulator(
                    {ENDPOINT_NAME: Endpoint(vllm_url, inference_components=(COMPONENT_NAME,))},
                    component_copies=0,
                    warm_up_seconds=warm_up_seconds,
                )
            )
            settings = Settings.from_env(
                {
                    "AGENT_ENDPOINT_NAME": ENDPOINT_NAME,
                    "AGENT_INFERENCE_COMPONENT_NAME": COMPONENT_NAME,
                    "AGENT_TOOLS": "",
                    "AGENT_REGION": "us-east-1",
                }
            )
            app = create_app(
                settings,
                runtime_client=sagemaker_client(emulator.url, read_timeout=60),
                sagemaker_client=sagemaker_control_client(emulator.url),
                warming_policy=WarmingPolicy(budget_seconds=budget_seconds, poll_seconds=POLL_SECONDS),
            )
            return ColdApi(stack.enter_context(serve(app)), emulator)

        yield start


def test_cold_request_waits_for_the_model_and_answers(cold_api: Callable[..., ColdApi]) -> None:
    api = cold_api(warm_up_seconds=1.0)

    result = chat(api.url, prompt="Hello")

    assert result.status == 200
    statuses = result.named("status")
    assert statuses and {event.data["state"] for event in statuses} == {"warming"}
    assert result.names[: len(statuses)] == ["status"] * len(statuses)
    assert result.text == PLAIN_TEXT
    assert result.names[-1] == "done"
    assert api.copy_count_requests == [1]


def test_request_that_does_not_wait_gets_503_model_warming(cold_api: Callable[..., ColdApi]) -> None:
    api = cold_api(warm_up_seconds=60)

    response = httpx.post(f"{api.url}/chat", json={"prompt": "Hello", "wait": False}, timeout=30)

    assert response.status_code == 503
    assert response.json()["code"] == "model_warming"
    assert int(response.headers["Retry-After"]) > 0
    assert api.copy_count_requests == [1]


def test_warming_longer_than_the_budget_ends_with_model_warming(cold_api: Callable[..., ColdApi]) -> None:
    api = cold_api(warm_up_seconds=60, budget_seconds=1.0)

    result = chat(api.url, prompt="Hello")

    assert result.status == 200
    assert set(result.names[:-1]) == {"status"}
    assert result.names[-1] == "error"
    assert result.events[-1].data["code"] == "model_warming"
    assert result.events[-1].data["waited_s"] == 1
    assert 1.0 <= result.events[-1].arrived < 30


def test_two_requests_during_one_warm_up_start_one_copy(cold_api: Callable[..., ColdApi]) -> None:
    api = cold_api(warm_up_seconds=1.5)
    results: list[ChatResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(chat(api.url, prompt="Hello"))) for _ in range(2)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [result.text for result in results] == [PLAIN_TEXT, PLAIN_TEXT]
    assert all(result.named("status") for result in results)
    assert api.copy_count_requests == [1]


def test_local_stack_cold_mode_wakes_the_model_through_the_deployed_app(vllm_url: str) -> None:
    # The agent API as Lambda runs it (lambda/run.sh), its sagemaker client pointed at the emulator by the
    # stack: the production policy checks every 10 s, so the 1 s warm-up ends at the second check.
    with LocalDeployment(backend_url=vllm_url, tools="", cold_start_seconds=1.0) as stack:
        before = httpx.get(f"{stack.agent_url}/status", timeout=10).json()
        result = chat(stack.agent_url, prompt="Hello")
        after = httpx.get(f"{stack.agent_url}/status", timeout=10).json()

    assert before["state"] == "scaled_to_zero"
    assert [event.data["elapsed_s"] for event in result.named("status")] == [0]
    assert result.text == PLAIN_TEXT
    assert after["state"] == "in_service"
