"""How `local.stack` wires the agent API, checked without vLLM (a stand-in container replays a recording).

Not marked e2e: these start only the emulator, moto and the agent API, in a few seconds.
"""

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from local.agent_environment import agent_environment
from local.stack import LocalDeployment, StackError
from tests.support.recordings import fixture_reply
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def recorded_container() -> Iterator[str]:
    with ScriptedServer(fixture_reply("vllm", "invocations_stream")) as server:
        yield server.url


def test_agent_environment_drops_the_callers_aws_and_agent_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AGENT_SYSTEM_PROMPT", "stray")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")

    environment = agent_environment("http://127.0.0.1:1", "http://127.0.0.1:2", tools=None)

    assert "AWS_PROFILE" not in environment
    assert "AGENT_SYSTEM_PROMPT" not in environment
    assert "POWERTOOLS_LOG_LEVEL" not in environment


def test_agent_environment_points_botocore_at_the_local_servers_with_dummy_credentials() -> None:
    environment = agent_environment("http://127.0.0.1:1", "http://127.0.0.1:2", tools=None)

    assert environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:1"
    assert environment["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:2"
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert environment["AGENT_ENDPOINT_NAME"] == "local-endpoint"


@pytest.mark.parametrize(("tools", "expected"), [(None, None), ("", ""), ("calculator", "calculator")])
def test_agent_environment_sets_agent_tools_only_when_given(tools: str | None, expected: str | None) -> None:
    environment = agent_environment("http://127.0.0.1:1", "http://127.0.0.1:2", tools=tools)

    assert environment.get("AGENT_TOOLS") == expected


def test_agent_environment_names_the_component_and_points_the_sagemaker_client_at_the_emulator() -> None:
    classic = agent_environment("http://127.0.0.1:1", "http://127.0.0.1:2", tools=None)
    cold = agent_environment("http://127.0.0.1:1", "http://127.0.0.1:2", tools=None, inference_component="ic")

    assert "AGENT_INFERENCE_COMPONENT_NAME" not in classic
    assert "AWS_ENDPOINT_URL_SAGEMAKER" not in classic
    assert cold["AGENT_INFERENCE_COMPONENT_NAME"] == "ic"
    assert cold["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://127.0.0.1:1"


def test_stack_refuses_a_negative_cold_start() -> None:
    with pytest.raises(ValueError, match="cold_start_seconds must be >= 0"):
        LocalDeployment(backend_url="http://127.0.0.1:9", cold_start_seconds=-1)


@pytest.mark.parametrize(
    ("backend", "message"),
    [("http://127.0.0.1:9", "nothing answers at http://127.0.0.1:9"), ("nope", "must be an http(s) URL")],
)
def test_stack_refuses_a_backend_it_cannot_reach(backend: str, message: str) -> None:
    with pytest.raises(StackError, match=re.escape(message)), LocalDeployment(backend_url=backend):
        pass


def test_stack_answers_through_the_agent_api_and_closes_its_port_on_exit(recorded_container: str) -> None:
    with LocalDeployment(backend_url=recorded_container, tools="") as stack:
        response = httpx.post(f"{stack.agent_url}/chat", json={"prompt": "Hello"}, timeout=30)
        agent_port = int(stack.agent_url.rsplit(":", 1)[1])

    assert response.status_code == 200
    assert "event: done" in response.text
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", agent_port)) != 0
