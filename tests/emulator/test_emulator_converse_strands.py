"""Strands' own ``BedrockModel``, unmodified, against the emulator's Converse and ConverseStream: an agent's
tool round trip, and Bedrock's failures as Strands sees them."""

import asyncio
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EventStreamError
from strands import Agent, tool
from strands.models.bedrock import BedrockModel
from strands.types.exceptions import ModelThrottledException

from local.emulator import Faults
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

PROMPT = "What is the weather in Paris?"
USER = [{"role": "user", "content": [{"text": PROMPT}]}]


def _model(runtime: BedrockRuntime, **config: Any) -> BedrockModel:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return BedrockModel(
        model_id=MODEL_ID,
        boto_session=session,
        endpoint_url=runtime.url,
        boto_client_config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **config,
    )


async def _drain(model: BedrockModel) -> list[Any]:
    return [event async for event in model.stream(USER)]  # type: ignore[arg-type]


@pytest.mark.parametrize("streaming", [True, False], ids=["converse_stream", "converse"])
def test_strands_agent_on_bedrock_model_runs_a_tool_round_trip(streaming: bool) -> None:
    asked: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        asked.append(city)
        return "Sunny, 21 degrees"

    replies = [
        Stream(fixture_parts("vllm/tools_auto_stream.txt")),
        Stream(fixture_parts("vllm/tools_result_followup_stream.txt")),
    ]
    with BedrockRuntime(*replies) as runtime:
        agent = Agent(
            model=_model(runtime, streaming=streaming),
            tools=[get_weather],
            system_prompt="Answer briefly.",
            callback_handler=None,
        )
        result = agent(PROMPT)

    assert str(result).strip() == "Sunny in Paris, 21 degrees"
    assert asked == ["Paris"]
    assert [call.stream for call in runtime.calls] == [streaming, streaming]
    first, second = runtime.chat_requests
    assert first["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert [tool_spec["function"]["name"] for tool_spec in first["tools"]] == ["get_weather"]
    assert second["messages"][2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert second["messages"][3] == {
        "role": "tool",
        "tool_call_id": "chatcmpl-tool-b1250e080cbd9ac3",
        "content": "Sunny, 21 degrees",
    }
    assert agent.messages[1]["content"][0]["toolUse"]["input"] == {"city": "Paris"}


def test_throttled_bedrock_model_raises_strands_model_throttled() -> None:
    with BedrockRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        runtime.emulator.set_faults(Faults(throttle_requests=1))
        with pytest.raises(ModelThrottledException):
            asyncio.run(_drain(_model(runtime)))


def test_stream_error_reaches_strands_after_the_text_it_sent() -> None:
    with BedrockRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        runtime.emulator.set_faults(Faults(stream_error_after_bytes=6))
        model = _model(runtime)
        events: list[Any] = []

        async def collect() -> None:
            async for event in model.stream(USER):  # type: ignore[arg-type]
                events.append(event)

        with pytest.raises(EventStreamError) as caught:
            asyncio.run(collect())

    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert "".join(texts) == "Hello!"


def test_bedrock_api_key_is_accepted_as_a_bearer_token() -> None:
    with BedrockRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        model = BedrockModel(
            model_id=MODEL_ID, region_name="us-east-1", endpoint_url=runtime.url, api_key="bedrock-api-key"
        )
        events = asyncio.run(_drain(model))

    assert runtime.calls[0].headers["Authorization"] == "Bearer bedrock-api-key"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 10
