"""Chunk shapes the fixtures do not all show, read by openai-chat and mapped by the EventBuilder."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.provider.helpers import parse_parts, summarize


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def call(index: int, arguments: Any = None, id: str | None = None, name: str | None = None) -> dict[str, Any]:
    return {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_interleaved_tool_call_fragments_are_kept_apart_by_index() -> None:
    body = sse(
        delta(tool_calls=[call(0, "", "c0", "a")]),
        delta(tool_calls=[call(1, '{"y"', "c1", "b")]),
        delta(tool_calls=[call(0, '{"x": 1}')]),
        delta(tool_calls=[call(1, ": 2}")], finish="tool_calls"),
    )
    assert summarize(parse_parts([body]))["tool_calls"] == [
        {"id": "c0", "name": "a", "arguments": {"x": 1}},
        {"id": "c1", "name": "b", "arguments": {"y": 2}},
    ]


def test_tool_arguments_given_as_an_object_are_serialized() -> None:
    body = sse(delta(tool_calls=[call(0, {"city": "Paris"}, "c0", "get_weather")], finish="tool_calls"))
    assert summarize(parse_parts([body]))["tool_calls"][0]["arguments"] == {"city": "Paris"}


def test_tool_call_without_id_gets_a_generated_one() -> None:
    body = sse(delta(tool_calls=[call(0, "{}", None, "now")], finish="tool_calls"))
    assert summarize(parse_parts([body]))["tool_calls"][0]["id"] == "tooluse_generated"


def test_reasoning_field_named_reasoning_is_read() -> None:
    body = sse(delta(reasoning="think"), delta(content="answer", finish="stop"))
    got = summarize(parse_parts([body]))
    assert (got["reasoning"], got["text"]) == ("think", "answer")


def test_reasoning_and_text_get_separate_closed_blocks() -> None:
    events = parse_parts([sse(delta(reasoning_content="a"), delta(content="b", finish="stop"))])
    kinds = [next(iter(e)) for e in events]
    assert kinds == [
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "content_filtered"),
        ("tool_calls", "tool_use"),
        ("eos_token", "end_turn"),
    ],
)
def test_finish_reason_is_mapped(finish: str, stop_reason: str) -> None:
    assert summarize(parse_parts([sse(delta(content="x", finish=finish))]))["stop_reason"] == stop_reason


def test_usage_with_missing_keys_reports_what_is_known() -> None:
    body = sse(delta(content="x", finish="stop"), {"choices": [], "usage": {"completion_tokens": 3}})
    metadata = parse_parts([body])[-1]["metadata"]
    assert metadata["usage"] == {"outputTokens": 3, "totalTokens": 3}


def test_cached_prompt_tokens_are_reported() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    metadata = parse_parts([sse(delta(content="x", finish="stop"), {"choices": [], "usage": usage})])[-1][
        "metadata"
    ]
    assert metadata["usage"]["cacheReadInputTokens"] == 8


def test_part_holding_only_the_blank_line_completes_the_event() -> None:
    events = parse_parts(
        [b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n', b"\n"]
    )
    assert summarize(events)["text"] == "Hi"


def test_multiline_sse_data_is_joined() -> None:
    body = b'data: {"choices":[{"index":0,\ndata: "delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n'
    assert summarize(parse_parts([body]))["text"] == "Hi"


def test_pretty_printed_completion_body_is_read() -> None:
    completion = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]
    }
    assert summarize(parse_parts([json.dumps(completion, indent=2).encode()]))["text"] == "Hi"


def test_empty_answer_still_ends_the_message() -> None:
    events = parse_parts([sse(delta(content="", finish="stop"))])
    assert [next(iter(e)) for e in events] == ["messageStart", "messageStop", "metadata"]


def test_tgi_stop_sequence_finish_reason_is_strands_stop_sequence() -> None:
    body = (
        b'data: {"index":1,"token":{"id":1,"text":"Paris","special":false},"generated_text":"Paris",'
        b'"details":{"finish_reason":"stop_sequence","generated_tokens":1,"input_length":5}}\n\n'
    )
    events = parse_parts([body], "tgi")
    assert {"messageStop": {"stopReason": "stop_sequence"}} in events


def test_tool_calls_come_out_in_index_order_whichever_index_starts_first() -> None:
    body = sse(
        delta(tool_calls=[call(1, '{"y": 2}', "c1", "b")]),
        delta(tool_calls=[call(0, '{"x": 1}', "c0", "a")], finish="tool_calls"),
    )
    assert [c["id"] for c in summarize(parse_parts([body]))["tool_calls"]] == ["c0", "c1"]


def test_calls_sent_at_one_index_with_their_own_ids_stay_separate() -> None:
    # Some servers number every call of a parallel answer 0, each with its own id and name.
    body = sse(
        delta(tool_calls=[call(0, "", "c0", "a")]),
        delta(tool_calls=[call(0, '{"x": 1}')]),
        delta(tool_calls=[call(0, "", "c1", "b")]),
        delta(tool_calls=[call(0, '{"y": 2}')], finish="tool_calls"),
    )
    assert summarize(parse_parts([body]))["tool_calls"] == [
        {"id": "c0", "name": "a", "arguments": {"x": 1}},
        {"id": "c1", "name": "b", "arguments": {"y": 2}},
    ]


def test_calls_in_one_chunk_without_indices_stay_separate_across_chunks() -> None:
    # TGI-like: each chunk lists whole calls without `index`; positions restart at 0 in every chunk.
    body = sse(
        delta(tool_calls=[{"id": "c0", "function": {"name": "a", "arguments": '{"x": 1}'}}]),
        delta(
            tool_calls=[{"id": "c1", "function": {"name": "b", "arguments": '{"y": 2}'}}], finish="tool_calls"
        ),
    )
    assert [c["id"] for c in summarize(parse_parts([body]))["tool_calls"]] == ["c0", "c1"]
