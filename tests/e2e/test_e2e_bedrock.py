"""Strands' own ``BedrockModel`` against the emulator's Converse and ConverseStream, answered by real vLLM CPU
on the tiny model (the local stand-in for a Bedrock fallback model)."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from strands import Agent, tool
from strands.models.bedrock import BedrockModel

from local.emulator import ConverseModel, Emulator
from local.tiny_model.script import PLAIN_REPLY, TOOL_RESULT_REPLY
from tests.support.bedrock_runtime import MODEL_ID, bedrock_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def bedrock_url(vllm_url: str) -> Iterator[str]:
    with Emulator({}, converse_models={MODEL_ID: ConverseModel(vllm_url)}) as emulator:
        yield emulator.url


@pytest.mark.parametrize("streaming", [True, False], ids=["converse_stream", "converse"])
def test_bedrock_model_agent_calls_the_tool_and_answers_from_its_result(
    bedrock_url: str, streaming: bool
) -> None:
    asked: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        asked.append(city)
        return "Sunny, 21 degrees"

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    model = BedrockModel(
        model_id=MODEL_ID,
        boto_session=session,
        endpoint_url=bedrock_url,
        boto_client_config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        streaming=streaming,
    )
    agent = Agent(model=model, tools=[get_weather], callback_handler=None)

    result = agent("What is the weather in Paris?")

    assert asked == ["Paris"]
    assert str(result).strip() == "".join(TOOL_RESULT_REPLY)


def test_converse_stream_without_tools_streams_the_plain_reply(bedrock_url: str) -> None:
    response = bedrock_client(bedrock_url).converse_stream(
        modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "Hello"}]}]
    )

    events = list(response["stream"])

    texts = [event["contentBlockDelta"]["delta"]["text"] for event in events if "contentBlockDelta" in event]
    assert "".join(texts) == "".join(PLAIN_REPLY)
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1]["metadata"]["usage"]["outputTokens"] >= len(PLAIN_REPLY)
