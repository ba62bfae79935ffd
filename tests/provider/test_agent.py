"""A real Strands Agent with a tool, over recorded vLLM streams served through boto3 and HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from strands import Agent, tool

from local.tiny_model.script import TOOL_RESULT_TEXT
from sagemaker_provider import SageMakerModel
from tests.provider.helpers import FIXTURES
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream

calls: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city.
    """
    calls.append(city)
    return "Sunny, 21 degrees"


TOOL_CALL_STREAMS = [
    "vllm/tools_auto_stream.txt",
    "sglang/b_tool_call_stream.body",
    "tgi/chat_stream_tool_call.body",
    "brconnector_sagemaker_openai/stream_tool_call.body",
]


@pytest.mark.parametrize("tool_call_stream", TOOL_CALL_STREAMS)
def test_agent_calls_tool_then_answers_from_its_result(tool_call_stream: str) -> None:
    calls.clear()
    with SageMakerRuntime(
        Stream([(FIXTURES / tool_call_stream).read_bytes()]),
        Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]),
    ) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())
        agent = Agent(model=model, tools=[get_weather], callback_handler=None)
        result = agent("What is the weather in Paris?")
        second = json.loads(endpoint.requests[1].body)
    assert calls == ["Paris"]
    assert str(result).strip() == TOOL_RESULT_TEXT
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assert second["messages"][-1]["content"] == "Sunny, 21 degrees"
    assert second["messages"][-1]["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]


class Weather(BaseModel):
    city: str


def test_structured_output_forces_the_tool_and_builds_the_model() -> None:
    body = (FIXTURES / "vllm" / "tools_named_stream.txt").read_bytes().replace(b"get_weather", b"Weather")
    with SageMakerRuntime(Stream([body])) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())

        async def run() -> Any:
            out = None
            async for event in model.structured_output(
                Weather, [{"role": "user", "content": [{"text": "Paris?"}]}]
            ):
                out = event.get("output", out)
            return out

        import asyncio

        result = asyncio.run(run())
        request = json.loads(endpoint.requests[0].body)
    assert result == Weather(city="Paris")
    assert request["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("stream", [True, False])
def test_reasoning_is_kept_in_the_answer_and_not_sent_back(field: str, stream: bool) -> None:
    message = {"role": "assistant", field: "They greet me.", "content": "Hello!"}
    if stream:
        chunks = [
            {"choices": [{"index": 0, "delta": {field: "They greet me."}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {"content": "Hello!"}, "finish_reason": "stop"}]},
        ]
        body = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    else:
        body = json.dumps(
            {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
        ).encode()
    with SageMakerRuntime(Stream([body])) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client(), stream=stream)
        agent = Agent(model=model, callback_handler=None)
        agent("Hi")
        agent("Again")
        second = json.loads(endpoint.requests[1].body)
    assert agent.messages[1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "They greet me."}}},
        {"text": "Hello!"},
    ]
    # As Strands' own OpenAI provider: earlier reasoning is not sent back to the model.
    assert second["messages"][1] == {"role": "assistant", "content": "Hello!"}


def test_two_interleaved_tool_calls_run_as_two_calls_in_order() -> None:
    def fragment(index: int, arguments: str, call_id: str | None = None) -> dict[str, Any]:
        function = {"arguments": arguments, **({"name": "get_weather"} if call_id else {})}
        call = {
            "index": index,
            "type": "function",
            "function": function,
            **({"id": call_id} if call_id else {}),
        }
        return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}

    chunks = [
        fragment(0, "", "call_paris"),
        fragment(1, '{"city": "Ber', "call_berlin"),
        fragment(0, '{"city": "Paris"}'),
        fragment(1, 'lin"}'),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    body = (
        b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"
    )
    calls.clear()
    with SageMakerRuntime(
        Stream([body]), Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()])
    ) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())
        Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Paris and Berlin?")
        second = json.loads(endpoint.requests[1].body)
    assert sorted(calls) == ["Berlin", "Paris"]
    assert [call["id"] for call in second["messages"][1]["tool_calls"]] == ["call_paris", "call_berlin"]
    assert [m["tool_call_id"] for m in second["messages"][2:]] == ["call_paris", "call_berlin"]
