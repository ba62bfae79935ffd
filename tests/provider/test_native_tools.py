"""Tool calls through the native TGI / LMI APIs: the Llama 3.1 JSON call read back from the generated text,
when it calls an offered tool with an object of arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from strands import Agent

from sagemaker_provider import SageMakerModel
from sagemaker_provider.formats import ModelRequest, ResponseParser, get_format
from tests.provider.helpers import fixed_id, summarize
from tests.support.sagemaker_runtime import ENDPOINT, ModelError, SageMakerRuntime, Stream

TOOL_SPEC: Any = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
REQUEST = ModelRequest(
    messages=[{"role": "user", "content": [{"text": "Weather in Paris?"}]}], tool_specs=[TOOL_SPEC]
)


def tgi_stream(tokens: list[str]) -> bytes:
    """A TGI native stream in the recorded shape (tgi/native_stream_details.body) with these token texts."""
    events = [
        {
            "index": i,
            "token": {"id": i, "text": t, "logprob": -0.1, "special": False},
            "generated_text": None,
            "details": None,
        }
        for i, t in enumerate(tokens, 1)
    ]
    events.append(
        {
            "index": len(tokens) + 1,
            "token": {"id": 128009, "text": "<|eot_id|>", "logprob": -0.1, "special": True},
            "generated_text": "".join(tokens),
            "details": {
                "finish_reason": "eos_token",
                "generated_tokens": len(tokens) + 1,
                "seed": None,
                "input_length": 300,
            },
        }
    )
    return b"".join(b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events)


def _parse(body: bytes, request: ModelRequest | None = REQUEST, format_name: str = "tgi") -> dict[str, Any]:
    parser = ResponseParser(get_format(format_name), fixed_id, request)
    return summarize([*parser.feed(body), *parser.finish()])


def test_json_tool_call_in_text_becomes_a_tool_use() -> None:
    got = _parse(tgi_stream(['{"', 'name": "get_weather", ', '"parameters": {"city": ', '"Paris"}}']))
    assert got["tool_calls"] == [
        {"id": "tooluse_generated", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert (got["text"], got["stop_reason"]) == ("", "tool_use")


def test_plain_answer_streams_as_text_when_tools_were_offered() -> None:
    got = _parse(tgi_stream(["Paris", " is", " sunny", "."]))
    assert (got["text"], got["tool_calls"], got["stop_reason"]) == ("Paris is sunny.", [], "end_turn")


def test_json_that_is_not_a_call_is_kept_as_text() -> None:
    got = _parse(tgi_stream(['{"city"', ': "Paris"}']))
    assert (got["text"], got["tool_calls"]) == ('{"city": "Paris"}', [])


def test_without_tools_json_answer_is_text() -> None:
    got = _parse(tgi_stream(['{"name": "x", "parameters": {}}']), None)
    assert got["tool_calls"] == []


def test_nonstreamed_generated_text_tool_call_is_read() -> None:
    body = json.dumps(
        [{"generated_text": '{"name": "get_weather", "parameters": {"city": "Paris"}}'}]
    ).encode()
    got = _parse(body)
    assert [(c["name"], c["arguments"]) for c in got["tool_calls"]] == [("get_weather", {"city": "Paris"})]


def test_auto_passes_the_request_to_the_native_reader() -> None:
    body = tgi_stream(['{"name": "get_weather", "parameters": {"city": "Paris"}}'])
    got = _parse(body, format_name="auto")
    assert got["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    "answer",
    [
        # The natural answer of a model asked for a Person: JSON whose "name" is not a tool.
        '{"name": "Ann", "age": 31}',
        '{"name": "get_weather", "parameters": ["Paris"]}',
        '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "Ann"}',
    ],
    ids=["unknown_name", "arguments_not_an_object", "one_call_of_two_unknown"],
)
def test_json_that_names_no_offered_tool_or_has_no_object_arguments_is_text(answer: str) -> None:
    got = _parse(tgi_stream([answer[:7], answer[7:]]))
    assert (got["text"], got["tool_calls"], got["stop_reason"]) == (answer, [], "end_turn")


def test_a_forced_tool_is_the_only_one_a_call_may_name() -> None:
    other: Any = {**TOOL_SPEC, "name": "get_time"}
    choice: Any = {"tool": {"name": "get_weather"}}
    request = ModelRequest(messages=REQUEST.messages, tool_specs=[TOOL_SPEC, other], tool_choice=choice)
    got = _parse(tgi_stream(['{"name": "get_time", "parameters": {}}']), request)
    assert got["tool_calls"] == []


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("response_format", ["tgi", "lmi"])
def test_agent_structured_output_from_a_json_answer_takes_two_model_calls(response_format: str) -> None:
    answer = '{"name": "Ann", "age": 31}'
    body = tgi_stream([answer]) if response_format == "tgi" else lmi_lines([answer])
    # A third call would be a loop: the test's endpoint then fails it.
    with SageMakerRuntime(Stream([body]), Stream([body]), ModelError(500, "a third model call")) as endpoint:
        model = SageMakerModel(
            endpoint_name=ENDPOINT, client=endpoint.client(), response_format=response_format
        )
        result = Agent(model=model, callback_handler=None)("Ann is 31.", structured_output_model=Person)
        model_calls = len(endpoint.requests)
    assert result.structured_output == Person(name="Ann", age=31)
    assert model_calls == 2


def lmi_lines(tokens: list[str]) -> bytes:
    """A DJL LMI native JSON-lines stream with these token texts (the shape of djl_lmi/native_stream)."""
    lines = [{"token": {"id": i, "text": t, "log_prob": -0.1}} for i, t in enumerate(tokens, 1)]
    lines[-1]["generated_text"] = "".join(tokens)
    lines[-1]["details"] = {"finish_reason": "eos_token", "generated_tokens": len(tokens), "inputs": []}
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
