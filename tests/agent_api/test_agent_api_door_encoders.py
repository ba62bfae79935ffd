"""The doors' encoders (`agent_api.doors`): every event of a turn reaches the client in the door's format,
one the door has no field for too (a later kind of event, like a `warning`, included)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from agent_api.doors.chat import ChatStream
from agent_api.doors.mcp_ask import progress_message
from agent_api.doors.openai import responses_encoder
from agent_api.doors.openai.completions_encoder import CompletionStream, WholeCompletion
from agent_api.doors.openai.responses_encoder import ResponseHead, ResponseStream, whole_response
from agent_api.errors import ErrorReply
from agent_api.turn_events import TurnEvent

WARNING = TurnEvent("warning", {"code": "tool_source_unavailable", "message": "the tools at x are down"})
TEXT = TurnEvent("text", {"delta": "Hi"})
DONE = TurnEvent(
    "done",
    {
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1},
        "session_id": None,
        "trace_id": None,
    },
)


def data_lines(encoded: bytes) -> list[str]:
    return [line.removeprefix("data: ") for line in encoded.decode().split("\n") if line.startswith("data: ")]


def test_chat_sends_any_event_under_its_own_name() -> None:
    encoder = ChatStream()
    assert encoder.event(WARNING) == (
        b'event: warning\ndata: {"code":"tool_source_unavailable","message":"the tools at x are down"}\n\n'
    )
    assert encoder.error(ErrorReply("model_error", "boom", 502, details={"waited_s": 3})) == (
        b'event: error\ndata: {"code":"model_error","message":"boom","waited_s":3}\n\n'
    )


def test_a_completion_stream_carries_an_event_it_has_no_field_for_as_an_agent_event() -> None:
    encoder = CompletionStream("chatcmpl-1", include_usage=False)
    lines = data_lines(encoder.event(WARNING) + encoder.event(TEXT) + encoder.event(DONE))
    assert lines[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(line) for line in lines[:-1]]
    # The role chunk first, once, then the warning, the text and the finish.
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[1].model_extra == {"agent_event": {"type": "warning", **WARNING.data}}
    assert chunks[2].choices[0].delta.content == "Hi"
    assert chunks[3].choices[0].finish_reason == "stop"
    assert [c.choices[0].delta.role for c in chunks].count("assistant") == 1


def test_a_completion_stream_keeps_a_waiting_client_with_comments_and_no_chunk() -> None:
    encoder = CompletionStream("chatcmpl-1", include_usage=False)
    waiting = encoder.event(TurnEvent("status", {"state": "warming", "elapsed_s": 10}))
    assert waiting == b": model warming, 10 s\n\n"
    # The role chunk still comes first once the answer begins.
    first = ChatCompletionChunk.model_validate_json(data_lines(encoder.event(TEXT))[0])
    assert first.choices[0].delta.role == "assistant"


def test_a_whole_completion_lists_an_event_it_has_no_field_for_in_agent_events() -> None:
    body = WholeCompletion("chatcmpl-1").answer([WARNING, TEXT, DONE])
    completion = ChatCompletion.model_validate_json(json.dumps(body))
    assert completion.choices[0].message.content == "Hi"
    assert completion.model_extra == {
        "agent_events": [{"type": "warning", **WARNING.data}],
        "trace_id": None,  # traces off
    }


def test_a_stored_response_and_the_one_its_client_reads_say_the_same_completion_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The response is stored before `done` reaches the door: a second may pass between the two bodies.
    clock = iter([1_000, 1_001])
    monkeypatch.setattr(responses_encoder, "time", SimpleNamespace(time=lambda: next(clock)))
    head = ResponseHead("resp_" + "0" * 32, created_at=999)

    stored = whole_response(head, [TEXT, DONE])
    stream = ResponseStream(head)
    completed = json.loads(data_lines(stream.event(TEXT) + stream.event(DONE))[-1])

    assert completed["type"] == "response.completed"
    assert stored["completed_at"] == completed["response"]["completed_at"] == 1_000


def test_an_mcp_progress_notification_says_a_fallback_model_answers() -> None:
    status = TurnEvent("status", {"state": "fallback", "model": "small-endpoint"})
    assert progress_message(status) == "the fallback model small-endpoint answers while the model starts"
