"""Tool calls a server left in the answer's text become tool calls (when tools were offered), and plain text
is held back no longer than it may still become one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from strands import Agent

from sagemaker_provider import SageMakerModel
from sagemaker_provider.formats import ModelRequest, ResponseParser, get_format
from tests.provider.helpers import FIXTURES, fixed_id, summarize
from tests.provider.test_agent import calls, get_weather
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream

TOOLS: Any = [
    {"name": name, "description": name, "inputSchema": {"json": {"type": "object"}}}
    for name in ("get_weather", "get_time")
]
PARIS = {"city": "Paris"}
LLAMA = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
SYNTAXES = {
    "llama3_json": LLAMA,
    "llama3_json_python_tag": "<|python_tag|>" + LLAMA,
    "llama3_json_arguments_key": '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    "hermes": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    "mistral": '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
}


def chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    payload = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def pieces(text: str, size: int = 3) -> list[bytes]:
    """The answer streamed as content deltas of ``size`` characters, then a finish reason."""
    return [chunk(text[i : i + size]) for i in range(0, len(text), size)] + [chunk(finish="stop")]


def parser(tools: Any = TOOLS, **request: Any) -> ResponseParser:
    model_request = ModelRequest(messages=[], tool_specs=tools, **request)
    return ResponseParser(get_format("openai-chat"), fixed_id, model_request)


def parse(parts: list[bytes], tools: Any = TOOLS, **request: Any) -> dict[str, Any]:
    reader = parser(tools, **request)
    events = [event for part in parts for event in reader.feed(part)]
    return summarize(events + reader.finish())


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_agent_runs_a_tool_call_written_in_the_text(syntax: str) -> None:
    calls.clear()
    with SageMakerRuntime(
        Stream(pieces(SYNTAXES[syntax])),
        Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]),
    ) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client())
        result = Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Paris?")
    assert calls == ["Paris"]
    assert str(result).strip() == "Sunny in Paris, 21 degrees"


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_each_syntax_becomes_a_tool_call_and_no_text(syntax: str) -> None:
    got = parse(pieces(SYNTAXES[syntax]))
    assert got["text"] == ""
    assert got["tool_calls"] == [{"id": "tooluse_generated", "name": "get_weather", "arguments": PARIS}]
    assert got["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    "text",
    [
        LLAMA + '; {"name": "get_time", "parameters": {}}',
        SYNTAXES["hermes"] + '\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_time", "arguments": {}}]',
    ],
    ids=["llama3_json", "hermes", "mistral"],
)
def test_several_calls_in_the_text_become_calls_in_order(text: str) -> None:
    got = parse(pieces(text))
    assert [(call["name"], call["arguments"]) for call in got["tool_calls"]] == [
        ("get_weather", PARIS),
        ("get_time", {}),
    ]


def test_text_before_a_hermes_call_streams_as_text() -> None:
    got = parse(pieces("Let me check.\n" + SYNTAXES["hermes"]))
    assert got["text"] == "Let me check.\n"
    assert [call["name"] for call in got["tool_calls"]] == ["get_weather"]


@pytest.mark.parametrize(
    ("tools", "request_fields"),
    [
        ([TOOLS[1]], {}),  # a call to a tool that was not offered is text
        (None, {}),  # no tools offered
        (TOOLS, {"text_tool_calls": False}),  # turned off
    ],
    ids=["name_not_offered", "no_tools", "turned_off"],
)
def test_call_syntax_stays_text_when_it_cannot_be_a_call(tools: Any, request_fields: dict[str, Any]) -> None:
    for text in SYNTAXES.values():
        got = parse(pieces(text), tools, **request_fields)
        assert (got["text"], got["tool_calls"]) == (text, [])


def test_json_answer_that_is_not_a_call_is_released_once_its_first_key_says_so() -> None:
    reader = parser()
    assert reader.feed(chunk('{"nam')) == [{"messageStart": {"role": "assistant"}}]
    released = reader.feed(chunk('es": [1]}'))
    assert [e["contentBlockDelta"]["delta"]["text"] for e in released if "contentBlockDelta" in e] == [
        '{"names": [1]}'
    ]


def test_plain_text_is_released_in_the_chunk_it_came_in() -> None:
    reader = parser()
    for part, expected in [("Hello", "Hello"), (" there <tool", " there "), ("s are fun", "<tools are fun")]:
        events = reader.feed(chunk(part))
        assert [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e] == [
            expected
        ]


def test_a_call_is_held_back_until_the_answer_ends() -> None:
    reader = parser()
    held = [event for part in pieces(SYNTAXES["hermes"])[:-1] for event in reader.feed(part)]
    assert not any("contentBlockDelta" in event for event in held)
