"""Tool calls a server left in the answer's text become tool calls (when tools were offered), in the syntax of
the model family named by ``text_tool_calls`` only, and plain text is held back no longer than it may still
become one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from strands import Agent

from local.tiny_model.script import TOOL_RESULT_TEXT
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
HERMES = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
MISTRAL = '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]'
# Each way a family writes the call, under the setting that names the family.
CALLS = {
    "llama3_json": ("llama3_json", LLAMA),
    "llama3_json_python_tag": ("llama3_json", "<|python_tag|>" + LLAMA),
    "llama3_json_arguments_key": ("llama3_json", '{"name": "get_weather", "arguments": {"city": "Paris"}}'),
    "hermes": ("hermes", HERMES),
    "mistral": ("mistral", MISTRAL),
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


def texts(events: list[Any]) -> list[str]:
    return [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]


@pytest.mark.parametrize("case", sorted(CALLS))
def test_agent_runs_a_tool_call_written_in_the_text_in_its_familys_syntax(case: str) -> None:
    syntax, text = CALLS[case]
    calls.clear()
    with SageMakerRuntime(
        Stream(pieces(text)),
        Stream([(FIXTURES / "vllm" / "tools_result_followup_stream.txt").read_bytes()]),
    ) as endpoint:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client(), text_tool_calls=syntax)
        result = Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Paris?")
    assert calls == ["Paris"]
    assert str(result).strip() == TOOL_RESULT_TEXT


@pytest.mark.parametrize("case", sorted(CALLS))
def test_each_syntax_becomes_a_tool_call_and_no_text(case: str) -> None:
    syntax, text = CALLS[case]
    got = parse(pieces(text), text_tool_calls=syntax)
    assert got["text"] == ""
    assert got["tool_calls"] == [{"id": "tooluse_generated", "name": "get_weather", "arguments": PARIS}]
    assert got["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("syntax", "text"),
    [
        ("llama3_json", LLAMA + '; {"name": "get_time", "parameters": {}}'),
        ("hermes", HERMES + '\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'),
        (
            "mistral",
            '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, '
            '{"name": "get_time", "arguments": {}}]',
        ),
    ],
)
def test_several_calls_in_the_text_become_calls_in_order(syntax: str, text: str) -> None:
    got = parse(pieces(text), text_tool_calls=syntax)
    assert [(call["name"], call["arguments"]) for call in got["tool_calls"]] == [
        ("get_weather", PARIS),
        ("get_time", {}),
    ]


@pytest.mark.parametrize(("syntax", "call"), [("hermes", HERMES), ("mistral", MISTRAL)])
def test_text_before_a_marked_call_streams_as_text(syntax: str, call: str) -> None:
    got = parse(pieces("Let me check.\n" + call), text_tool_calls=syntax)
    assert got["text"] == "Let me check.\n"
    assert [call["name"] for call in got["tool_calls"]] == ["get_weather"]


@pytest.mark.parametrize("setting", ["llama3_json", "hermes", "mistral"])
def test_another_familys_syntax_is_text(setting: str) -> None:
    # A model explaining another family's call syntax in prose writes text, not a call.
    for case, (syntax, text) in CALLS.items():
        if syntax != setting:
            for answer in (text, "For example:\n" + text):
                got = parse(pieces(answer), text_tool_calls=setting)
                assert (got["text"], got["tool_calls"]) == (answer, []), case


@pytest.mark.parametrize(
    "answer",
    [
        # A Llama model showing what a call looks like, in another family's syntax.
        'A call looks like <tool_call>{"name": "delete_file", "arguments": {"path": "/"}}</tool_call>.',
        # <|python_tag|> starts a call only at the start of the answer, as in vLLM's llama3_json parser.
        'Here is one: <|python_tag|>{"name": "delete_file", "parameters": {"path": "/"}}',
        # JSON after text.
        'Like this: {"name": "delete_file", "parameters": {"path": "/"}}',
    ],
)
def test_a_call_shown_in_prose_is_not_run(answer: str) -> None:
    tools = [*TOOLS, {"name": "delete_file", "description": "d", "inputSchema": {"json": {"type": "object"}}}]
    got = parse(pieces(answer), tools, text_tool_calls="llama3_json")
    assert (got["text"], got["tool_calls"]) == (answer, [])


@pytest.mark.parametrize("setting", ["hermes", "mistral"])
def test_a_json_call_is_text_for_a_family_that_marks_its_calls(setting: str) -> None:
    got = parse(pieces(LLAMA), text_tool_calls=setting)
    assert (got["text"], got["tool_calls"]) == (LLAMA, [])


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
    for syntax, text in CALLS.values():
        got = parse(pieces(text), tools, **{"text_tool_calls": syntax, **request_fields})
        assert (got["text"], got["tool_calls"]) == (text, [])


@pytest.mark.parametrize(
    ("syntax", "text"),
    [
        ("llama3_json", '{"name": "get_weather", "parameters": ["Paris"]}'),
        ("llama3_json", '{"name": "get_weather", "parameters": "Paris"}'),
        ("hermes", '<tool_call>{"name": "get_weather", "arguments": 5}</tool_call>'),
        ("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": null}]'),
    ],
)
def test_arguments_that_are_not_an_object_stay_text(syntax: str, text: str) -> None:
    got = parse(pieces(text), text_tool_calls=syntax)
    assert (got["text"], got["tool_calls"]) == (text, [])


def test_without_the_setting_calls_in_the_text_stay_text() -> None:
    # The provider alone does not guess a family: a server's tool_calls are the only calls.
    for _, text in CALLS.values():
        got = parse(pieces(text))
        assert (got["text"], got["tool_calls"]) == (text, [])
    model = SageMakerModel(endpoint_name=ENDPOINT, client=object())
    assert model.get_config().get("text_tool_calls", False) is False


def test_json_answer_that_is_not_a_call_is_released_once_its_first_key_says_so() -> None:
    reader = parser(text_tool_calls="llama3_json")
    assert reader.feed(chunk('{"nam')) == [{"messageStart": {"role": "assistant"}}]
    assert texts(reader.feed(chunk('es": [1]}'))) == ['{"names": [1]}']


@pytest.mark.parametrize(
    ("syntax", "feeds"),
    [
        ("hermes", [("Hello", "Hello"), (" there <tool", " there "), ("s are fun", "<tools are fun")]),
        ("mistral", [("Hello", "Hello"), (" there [TOOL", " there "), ("S] are", "[TOOLS] are")]),
        # Llama: only the start may be a call; after that, nothing is held, markers of others included.
        ("llama3_json", [("Hello", "Hello"), (" there <tool", " there <tool"), ("_call>", "_call>")]),
    ],
)
def test_plain_text_is_released_in_the_chunk_it_came_in(syntax: str, feeds: list[tuple[str, str]]) -> None:
    reader = parser(text_tool_calls=syntax)
    for part, expected in feeds:
        assert texts(reader.feed(chunk(part))) == [expected]


@pytest.mark.parametrize("case", ["hermes", "mistral", "llama3_json", "llama3_json_python_tag"])
def test_a_call_is_held_back_until_the_answer_ends(case: str) -> None:
    syntax, text = CALLS[case]
    reader = parser(text_tool_calls=syntax)
    held = [event for part in pieces(text)[:-1] for event in reader.feed(part)]
    assert not any("contentBlockDelta" in event for event in held)
