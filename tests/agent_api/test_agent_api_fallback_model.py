"""The fallback's model (agent_api.fallback_model), and a conversation crossing from one model to the other.

The crossings run on the emulator through real botocore clients: Strands' own `BedrockModel` reads what the
own model wrote, and the provider reads what a Bedrock model wrote.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
from typing import Any

import boto3
import botocore.session
import pytest
from strands.models.bedrock import BedrockModel

from agent_api.bedrock_history import TOOL_USE_ID_PATTERN, bedrock_tool_use_id, for_bedrock
from agent_api.fallback_model import (
    BEDROCK_CLIENT_CONFIG,
    CONVERSE_MAX_TEMPERATURE,
    FallbackBedrockModel,
    FallbackModel,
    create_bedrock_client,
)
from agent_api.fallback_settings import BedrockFallback, BedrockModelId, EndpointFallback
from sagemaker_provider import SageMakerModel
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream

CALCULATOR = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "inputSchema": {"json": {"type": "object", "properties": {"expression": {"type": "string"}}}},
}
# An id no Bedrock model would write: a server's own format, too long and with characters Bedrock refuses.
FOREIGN_ID = "chatcmpl-tool/" + "9" * 60
WRITTEN_BY_THE_OWN_MODEL: list[Any] = [
    {"role": "user", "content": [{"text": "What is 6 times 7?"}]},
    {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "Multiply."}}},
            {"toolUse": {"toolUseId": FOREIGN_ID, "name": "calculator", "input": {"expression": "6 * 7"}}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": FOREIGN_ID, "status": "success", "content": [{"text": "42"}]}}
        ],
    },
    {"role": "assistant", "content": [{"text": "It is 42."}]},
    # A turn cut while the model was still reasoning: the answer holds nothing Bedrock takes.
    {"role": "user", "content": [{"text": "Think hard: and 6 times 8?"}]},
    {
        "role": "assistant",
        "content": [{"reasoningContent": {"reasoningText": {"text": "Hmm"}}}, {"text": " "}],
    },
    {"role": "user", "content": [{"text": "Just the number, please."}]},
]
WRITTEN_BY_BEDROCK: list[Any] = [
    {"role": "user", "content": [{"text": "What is 6 times 7?"}]},
    {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "Multiply.", "signature": "c2lnbmVk"}}},
            {"reasoningContent": {"redactedContent": b"\x00opaque"}},
            {
                "toolUse": {
                    "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "name": "calculator",
                    "input": {"expression": "6 * 7"},
                }
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "status": "success",
                    "content": [{"json": {"value": 42}}],
                }
            }
        ],
    },
    {"role": "assistant", "content": [{"text": "It is 42."}]},
    {"role": "user", "content": [{"text": "And 6 times 8?"}]},
]


def converse_pattern(shape: str) -> re.Pattern[str]:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return re.compile(model.shape_for(shape).metadata["pattern"])


def bedrock_client(url: str) -> Any:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client("bedrock-runtime", endpoint_url=url, config=BEDROCK_CLIENT_CONFIG)


async def _drain(model: Any, messages: list[Any]) -> list[Any]:
    return [event async for event in model.stream(messages, [CALCULATOR], "Answer briefly.")]


def _texts(events: list[Any]) -> str:
    return "".join(
        event["contentBlockDelta"]["delta"].get("text", "")
        for event in events
        if "contentBlockDelta" in event
    )


# --- The conversion ---------------------------------------------------------------------------------------


def test_earlier_reasoning_is_dropped_and_the_turn_being_answered_keeps_its_own() -> None:
    in_this_turn = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"reasoningContent": {"reasoningText": {"text": "old"}}}, {"text": "Hello"}],
        },
        {"role": "user", "content": [{"text": "6 times 7?"}]},
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "new", "signature": "s"}}},
                {"toolUse": {"toolUseId": "t1", "name": "calculator", "input": {}}},
            ],
        },
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "42"}]}}]},
    ]
    readable = for_bedrock(in_this_turn)  # type: ignore[arg-type]
    assert readable[1]["content"] == [{"text": "Hello"}]
    assert readable[3] == in_this_turn[3]


def test_foreign_tool_ids_and_names_become_ones_bedrock_takes_in_call_and_result_alike() -> None:
    conversation = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "call 1", "name": "get weather", "input": [1]}}],
        },
        {"role": "user", "content": [{"toolResult": {"toolUseId": "call 1", "content": [{"text": "x"}]}}]},
    ]
    readable = for_bedrock(conversation)  # type: ignore[arg-type]
    tool_use = readable[1]["content"][0]["toolUse"]
    assert (
        tool_use["toolUseId"]
        == readable[2]["content"][0]["toolResult"]["toolUseId"]
        == bedrock_tool_use_id("call 1")
    )
    assert converse_pattern("ToolUseId").fullmatch(tool_use["toolUseId"])
    assert tool_use["name"] == "get_weather"
    assert tool_use["input"] == {"input": [1]}
    # What Bedrock takes is kept as it is.
    assert bedrock_tool_use_id("tooluse_abc-1") == "tooluse_abc-1"


def test_every_id_the_conversion_keeps_or_makes_is_one_converse_takes() -> None:
    pattern = converse_pattern("ToolUseId")
    for tool_use_id in ("a", "x" * 64, "x" * 65, "get_weather:0", "ü", FOREIGN_ID):
        converted = bedrock_tool_use_id(tool_use_id)
        assert TOOL_USE_ID_PATTERN.fullmatch(converted) and pattern.fullmatch(converted), tool_use_id


def test_a_message_left_empty_goes_and_its_neighbours_of_one_role_become_one() -> None:
    readable = for_bedrock(WRITTEN_BY_THE_OWN_MODEL)
    roles = [message["role"] for message in readable]
    assert all(first != second for first, second in itertools.pairwise(roles))
    assert readable[-1]["content"] == [
        {"text": "Think hard: and 6 times 8?"},
        {"text": "Just the number, please."},
    ]


def test_the_stored_conversation_is_left_as_it_was() -> None:
    stored = copy.deepcopy(WRITTEN_BY_THE_OWN_MODEL)
    for_bedrock(stored)
    assert stored == WRITTEN_BY_THE_OWN_MODEL


# --- Crossing the switch, both ways, through real clients -----------------------------------------------


def test_the_bedrock_fallback_reads_what_the_own_model_wrote() -> None:
    with BedrockRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        client = bedrock_client(runtime.url)
        model = FallbackBedrockModel(client=client, model_id=MODEL_ID, streaming=True)
        # Strands' own model, given the conversation as stored, is refused (the emulator checks what Bedrock
        # does): the conversion is what makes the crossing work.
        plain = BedrockModel(boto_session=boto3.Session(region_name="us-east-1"), model_id=MODEL_ID)
        plain.client = client
        with pytest.raises(Exception, match="ValidationException"):
            asyncio.run(_drain(plain, WRITTEN_BY_THE_OWN_MODEL))

        events = asyncio.run(_drain(model, WRITTEN_BY_THE_OWN_MODEL))

    assert _texts(events)
    (sent,) = [
        json.loads(call.body) for call in runtime.calls if call.body and "toolUse" in call.body.decode()
    ][-1:]
    assert "reasoningContent" not in json.dumps(sent["messages"])
    ids = {
        block[kind]["toolUseId"]
        for message in sent["messages"]
        for block in message["content"]
        for kind in ("toolUse", "toolResult")
        if kind in block
    }
    assert ids == {bedrock_tool_use_id(FOREIGN_ID)}


def test_the_own_model_reads_what_a_bedrock_model_wrote() -> None:
    with SageMakerRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        model = SageMakerModel(client=runtime.client(), endpoint_name=ENDPOINT)

        events = asyncio.run(_drain(model, WRITTEN_BY_BEDROCK))

    assert _texts(events)
    (sent,) = runtime.bodies
    assert [message["role"] for message in sent["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert sent["messages"][2]["tool_calls"][0]["id"] == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    assert "Multiply" not in json.dumps(sent)


# --- The fallback's model per turn ------------------------------------------------------------------------


def test_a_bedrock_fallback_shares_one_client_and_keeps_to_converse_and_its_own_caps() -> None:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    client = create_bedrock_client(session, "eu-west-1")
    fallback = FallbackModel(
        BedrockFallback(BedrockModelId(f"eu.{MODEL_ID[3:]}", MODEL_ID[3:], "eu"), max_tokens=512),
        bedrock_client=client,
    )

    first, second = fallback.model(4096, 1.5), fallback.model(100, 0.2)

    assert isinstance(first, FallbackBedrockModel) and isinstance(second, FallbackBedrockModel)
    assert first.client is second.client is client
    assert first.client.meta.region_name == "eu-west-1"
    assert first.get_config()["max_tokens"] == 512 and second.get_config()["max_tokens"] == 100
    assert first.get_config()["temperature"] == CONVERSE_MAX_TEMPERATURE
    assert second.get_config()["temperature"] == 0.2
    assert fallback.name == f"eu.{MODEL_ID[3:]}"


def test_converse_takes_temperatures_up_to_the_cap() -> None:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    temperature = model.shape_for("InferenceConfiguration").members["temperature"]
    assert temperature.metadata["max"] == CONVERSE_MAX_TEMPERATURE


def test_an_endpoint_fallback_is_the_provider_on_the_other_endpoint() -> None:
    with SageMakerRuntime(endpoint_name="small") as runtime:
        client = runtime.client()
        fallback = FallbackModel(
            EndpointFallback("small", None, "openai-chat", "hermes", max_tokens=64), runtime_client=client
        )

        model = fallback.model(1024, 0.5)

    assert isinstance(model, SageMakerModel) and model.client is client
    assert model.config["endpoint_name"] == "small"
    assert model.config["params"] == {"max_tokens": 64, "temperature": 0.5}
    assert model.config["text_tool_calls"] == "hermes"
    assert fallback.name == "small"


def test_an_endpoint_fallback_in_a_format_the_provider_does_not_know_fails_at_start() -> None:
    with pytest.raises(ValueError, match="response_format"):
        FallbackModel(EndpointFallback("small", None, "no-such-format"), runtime_client=object())  # type: ignore[arg-type]
