"""Bedrock runtime's Converse and ConverseStream, through real boto3 clients, answered from a scripted
OpenAI-compatible server: the events and answers botocore parses, and the chat-completions request sent."""

from typing import Any

import pytest

from tests.emulator.chat_chunks import DONE, chunk, stream, tool_call, usage
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import Stream

USER = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}


def _events(runtime: BedrockRuntime, **request: Any) -> list[dict[str, Any]]:
    response = runtime.client().converse_stream(modelId=MODEL_ID, **{"messages": USER, **request})
    return list(response["stream"])


def test_converse_stream_sends_a_text_answer_as_bedrock_events(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stream_usage.txt"))

    events = _events(bedrock)

    assert events[0] == {"messageStart": {"role": "assistant"}}
    texts = [event["contentBlockDelta"] for event in events[1:-3]]
    assert {text["contentBlockIndex"] for text in texts} == {0}
    assert "".join(text["delta"]["text"] for text in texts) == "Hello! I am a tiny test model."
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    metadata = events[-1]["metadata"]
    assert metadata["usage"] == {"inputTokens": 96, "outputTokens": 10, "totalTokens": 106}
    assert metadata["metrics"]["latencyMs"] >= 0


def test_converse_answers_the_whole_message_with_usage_and_metrics(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stream_usage.txt"))

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER)

    assert answer["output"] == {
        "message": {"role": "assistant", "content": [{"text": "Hello! I am a tiny test model."}]}
    }
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 96, "outputTokens": 10, "totalTokens": 106}
    assert answer["metrics"]["latencyMs"] >= 0
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"


def test_converse_stream_opens_a_tool_use_block_and_streams_its_input_in_fragments(
    bedrock: BedrockRuntime,
) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/tools_auto_stream.txt"))

    events = _events(bedrock, toolConfig={"tools": [WEATHER_TOOL]})

    assert events[1] == {
        "contentBlockStart": {
            "start": {"toolUse": {"toolUseId": "chatcmpl-tool-b1250e080cbd9ac3", "name": "get_weather"}},
            "contentBlockIndex": 0,
        }
    }
    fragments = [event["contentBlockDelta"]["delta"]["toolUse"]["input"] for event in events[2:-3]]
    assert fragments == ['{"city": "', 'Paris"}']
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}


def test_converse_answers_a_tool_use_with_its_parsed_input(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/tools_auto_stream.txt"))

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER, toolConfig={"tools": [WEATHER_TOOL]})

    assert answer["output"]["message"]["content"] == [
        {
            "toolUse": {
                "toolUseId": "chatcmpl-tool-b1250e080cbd9ac3",
                "name": "get_weather",
                "input": {"city": "Paris"},
            }
        }
    ]
    assert answer["stopReason"] == "tool_use"


def test_request_is_translated_to_a_streamed_chat_completions_request(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stream_usage.txt"))

    bedrock.client().converse(
        modelId=MODEL_ID,
        messages=USER,
        system=[{"text": "Be brief."}, {"cachePoint": {"type": "default"}}, {"text": "Be kind."}],
        inferenceConfig={"maxTokens": 64, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        toolConfig={"tools": [WEATHER_TOOL, {"cachePoint": {"type": "default"}}], "toolChoice": {"any": {}}},
    )

    assert bedrock.chat_requests == [
        {
            "messages": [
                {"role": "system", "content": "Be brief.\nBe kind."},
                {"role": "user", "content": "What is the weather in Paris?"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 64,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": ["END"],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Get the current weather for a city",
                        "parameters": WEATHER_TOOL["toolSpec"]["inputSchema"]["json"],
                    },
                }
            ],
            "tool_choice": "required",
        }
    ]


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"auto": {}}, "auto"),
        ({"any": {}}, "required"),
        ({"tool": {"name": "get_weather"}}, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_becomes_the_chat_completions_tool_choice(
    bedrock: BedrockRuntime, tool_choice: dict[str, Any], expected: object
) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/tools_auto_stream.txt"))

    bedrock.client().converse(
        modelId=MODEL_ID, messages=USER, toolConfig={"tools": [WEATHER_TOOL], "toolChoice": tool_choice}
    )

    assert bedrock.chat_requests[0]["tool_choice"] == expected


def test_tool_result_turn_becomes_the_assistants_tool_calls_and_a_tool_message(
    bedrock: BedrockRuntime,
) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "I should look.", "signature": "sig"}}},
                {"text": "Let me look."},
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "call_1",
                        "content": [{"json": {"temp_c": 21}}, {"text": "sunny"}],
                        "status": "success",
                    }
                },
                {"text": "And tomorrow?"},
            ],
        },
    ]

    answer = bedrock.client().converse(
        modelId=MODEL_ID, messages=messages, toolConfig={"tools": [WEATHER_TOOL]}
    )

    assert bedrock.chat_requests[0]["messages"] == [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}\nsunny'},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert answer["output"]["message"]["content"] == [{"text": "Sunny in Paris, 21 degrees"}]


def test_image_bytes_become_a_data_url(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stream_usage.txt"))
    messages = [
        {
            "role": "user",
            "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}},
            ],
        }
    ]

    bedrock.client().converse(modelId=MODEL_ID, messages=messages)

    assert bedrock.chat_requests[0]["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
    ]


def test_reasoning_streams_as_its_own_reasoning_content_block(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "Pondering"}),
        chunk({"reasoning": " deeply"}),
        chunk({"content": "Forty"}),
        chunk({"content": "-two"}, finish="stop"),
        usage(12, 6),
        DONE,
    )

    events = _events(bedrock)
    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER)

    assert events[1:7] == [
        {"contentBlockDelta": {"delta": {"reasoningContent": {"text": "Pondering"}}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"reasoningContent": {"text": " deeply"}}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "Forty"}, "contentBlockIndex": 1}},
        {"contentBlockDelta": {"delta": {"text": "-two"}, "contentBlockIndex": 1}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
    ]
    assert answer["output"]["message"]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Pondering deeply"}}},
        {"text": "Forty-two"},
    ]


def test_text_then_two_tool_calls_are_three_blocks_in_order(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(
        chunk({"content": "Checking both."}),
        chunk(tool_call(0, call_id="call_a", name="get_weather")),
        chunk(tool_call(0, arguments='{"city": ')),
        chunk(tool_call(0, arguments='"Paris"}')),
        chunk(tool_call(1, call_id="call_b", name="get_weather", arguments='{"city": "Rome"}')),
        chunk({}, finish="tool_calls"),
        DONE,
    )

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER, toolConfig={"tools": [WEATHER_TOOL]})
    events = _events(bedrock, toolConfig={"tools": [WEATHER_TOOL]})

    assert answer["output"]["message"]["content"] == [
        {"text": "Checking both."},
        {"toolUse": {"toolUseId": "call_a", "name": "get_weather", "input": {"city": "Paris"}}},
        {"toolUse": {"toolUseId": "call_b", "name": "get_weather", "input": {"city": "Rome"}}},
    ]
    starts = [event["contentBlockStart"] for event in events if "contentBlockStart" in event]
    assert [(start["contentBlockIndex"], start["start"]["toolUse"]["toolUseId"]) for start in starts] == [
        (1, "call_a"),
        (2, "call_b"),
    ]
    assert [
        event["contentBlockStop"]["contentBlockIndex"] for event in events if "contentBlockStop" in event
    ] == [
        0,
        1,
        2,
    ]
    # The usage chunk is optional: without it, the usage is zero rather than missing.
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}


def test_tool_call_id_bedrock_would_not_take_is_replaced(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(
        chunk(tool_call(0, call_id="call with spaces", name="get_weather", arguments="{}")),
        chunk({}, finish="tool_calls"),
        DONE,
    )

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER, toolConfig={"tools": [WEATHER_TOOL]})

    tool_use_id = answer["output"]["message"]["content"][0]["toolUse"]["toolUseId"]
    assert tool_use_id.startswith("tooluse_")
    assert tool_use_id.replace("_", "").replace("-", "").isalnum()


@pytest.mark.parametrize(
    ("finish", "fields", "request_fields", "stop_reason"),
    [
        ("length", {}, {}, "max_tokens"),
        ("content_filter", {}, {}, "content_filtered"),
        ("stop", {"stop_reason": "END"}, {"inferenceConfig": {"stopSequences": ["END"]}}, "stop_sequence"),
        ("stop", {"stop_reason": None}, {"inferenceConfig": {"stopSequences": ["END"]}}, "end_turn"),
    ],
)
def test_finish_reason_becomes_bedrocks_stop_reason(
    bedrock: BedrockRuntime,
    finish: str,
    fields: dict[str, Any],
    request_fields: dict[str, Any],
    stop_reason: str,
) -> None:
    bedrock.server.reply = stream(chunk({"content": "Hello"}), chunk({}, finish=finish, **fields), DONE)

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER, **request_fields)

    assert answer["stopReason"] == stop_reason


def test_recorded_length_stop_is_max_tokens_in_both_operations(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stop_length.txt"))

    events = _events(bedrock, inferenceConfig={"maxTokens": 3})
    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER, inferenceConfig={"maxTokens": 3})

    assert events[-2] == {"messageStop": {"stopReason": "max_tokens"}}
    assert answer["stopReason"] == "max_tokens"
    assert answer["output"]["message"]["content"] == [{"text": "Hello! I"}]


def test_model_arn_configured_as_a_model_id_is_answered() -> None:
    arn = (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0"
    )
    with BedrockRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt")), model_id=arn) as runtime:
        answer = runtime.client().converse(modelId=arn, messages=USER)

    assert answer["stopReason"] == "end_turn"
    assert runtime.calls[0].model_id == arn
    assert runtime.calls[0].path.startswith("/model/arn%3Aaws%3Abedrock%3A")
