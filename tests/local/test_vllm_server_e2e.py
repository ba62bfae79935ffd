"""Real vLLM CPU on the tiny model, started through container/serve: SageMaker routes answer as recorded."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.tiny_model import build
from local.tiny_model.script import CALL_ARGUMENTS, CALLED_TOOL, PLAIN_TEXT, TOOL_RESULT_TEXT
from local.vllm_server import DEFAULT_VENV, VllmServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not any(DEFAULT_VENV.glob("lib/python3*/site-packages/vllm")),
        reason=f"{DEFAULT_VENV} has no vLLM (create it from local/requirements-vllm.txt)",
    ),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vllm"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    with VllmServer(build(tmp_path_factory.mktemp("tiny") / "model")) as running:
        yield running


def recorded_request(case: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / f"{case}.request.json").read_text())
    body["model"] = "model"  # the served model name `serve` gives by default
    return dict(body)


def stream_chunks(server: VllmServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.stream("POST", f"{server.base_url}/invocations", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[len("data: ") :]) for line in lines[:-1]]


def test_ping_answers_200(server: VllmServer) -> None:
    assert httpx.get(f"{server.base_url}/ping", timeout=10).status_code == 200


def test_streamed_answer_without_tools(server: VllmServer) -> None:
    chunks = stream_chunks(server, recorded_request("invocations_stream"))
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert text == PLAIN_TEXT
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_call_when_tools_are_offered(server: VllmServer) -> None:
    chunks = stream_chunks(server, recorded_request("invocations_tools_stream"))
    calls = [call for chunk in chunks for call in chunk["choices"][0]["delta"].get("tool_calls") or []]
    assert [call["function"]["name"] for call in calls if "name" in call["function"]] == [CALLED_TOOL]
    arguments = "".join(call["function"].get("arguments") or "" for call in calls)
    assert json.loads(arguments) == CALL_ARGUMENTS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_streamed_answer_after_a_tool_result(server: VllmServer) -> None:
    body = recorded_request("tools_result_followup_stream")
    chunks = stream_chunks(server, body)
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert text == TOOL_RESULT_TEXT


def test_sampling_at_the_agent_temperature_gives_the_same_answer(server: VllmServer) -> None:
    body = {**recorded_request("invocations_stream"), "temperature": 0.2}
    chunks = stream_chunks(server, body)
    assert "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks) == PLAIN_TEXT
