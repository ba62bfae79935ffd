"""A corpus of broken bodies: each one raises a specific, typed error."""

from __future__ import annotations

import pytest
from strands.types.exceptions import ContextWindowOverflowException

from sagemaker_provider.errors import MalformedChunkError, ModelStreamError, StreamTruncatedError
from tests.provider.helpers import FIXTURES, parse_parts

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
DONE = b"data: [DONE]\n\n"

CORPUS = {
    "invalid_json_in_data": (b'data: {"choices": [\n\n', "openai-chat", MalformedChunkError),
    "garbage_line": (CHUNK + b"<html>Bad Gateway</html>\n" + DONE, "openai-chat", MalformedChunkError),
    "invalid_json_line_midstream": (
        b'{"choices":[]}\n{"choices": oops}\n',
        "openai-chat",
        MalformedChunkError,
    ),
    "chunk_is_a_string": (b'data: "hello"\n\n' + DONE, "openai-chat", MalformedChunkError),
    "content_is_a_number": (
        b'data: {"choices":[{"index":0,"delta":{"content":5}}]}\n\n' + DONE,
        "openai-chat",
        MalformedChunkError,
    ),
    "tool_calls_not_a_list": (
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":"x"}}]}\n\n' + DONE,
        "openai-chat",
        MalformedChunkError,
    ),
    "tool_call_without_name": (
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},'
        b'"finish_reason":"tool_calls"}]}\n\n',
        "openai-chat",
        MalformedChunkError,
    ),
    "no_choices_no_usage": (b'data: {"id":"x"}\n\n' + DONE, "openai-chat", MalformedChunkError),
    "invalid_utf8": (
        b'data: {"choices":[{"delta":{"content":"\xff\xfe"}}]}\n\n',
        "openai-chat",
        MalformedChunkError,
    ),
    "unknown_shape_for_auto": (b'{"result": "hi"}\n', "auto", MalformedChunkError),
    "no_finish_no_done": (CHUNK, "openai-chat", StreamTruncatedError),
    "cut_inside_a_line": (CHUNK + b'data: {"choices":[{"ind', "openai-chat", StreamTruncatedError),
    "empty_body": (b"", "auto", StreamTruncatedError),
    "only_keepalives": (b":\n\n:\n\n", "auto", StreamTruncatedError),
    "incomplete_json_document": (b'{\n  "choices": [\n', "openai-chat", StreamTruncatedError),
    "native_without_final_event": (
        b'data: {"token":{"id":1,"text":"Hi","special":false},"generated_text":null}\n\n',
        "tgi",
        StreamTruncatedError,
    ),
    "native_token_without_text": (b'{"token": 5}\n', "lmi", MalformedChunkError),
    "error_event": (
        b'event: error\ndata: {"error": {"message": "boom"}}\n\n',
        "openai-chat",
        ModelStreamError,
    ),
    "error_event_plain_text": (b"event: error\ndata: engine died\n\n", "auto", ModelStreamError),
    "finish_reason_abort": (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"abort"}]}\n\n' + DONE,
        "openai-chat",
        ModelStreamError,
    ),
    "vllm_context_error_midstream": (
        CHUNK + b'data: {"error": {"message": "This model\'s maximum context length is 2048 tokens."}}\n\n',
        "openai-chat",
        ContextWindowOverflowException,
    ),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_broken_body_raises_typed_error(case: str) -> None:
    body, format_name, error_type = CORPUS[case]
    events = parse_parts([body], format_name)
    assert type(events[-1]) is error_type, events[-1]


def test_malformed_error_names_format_and_shows_truncated_bytes() -> None:
    line = b"<html>" + b"x" * 1000 + b"</html>"
    events = parse_parts([CHUNK + line + b"\n" + DONE], "openai-chat")
    error = events[-1]
    assert isinstance(error, MalformedChunkError)
    assert error.format_name == "openai-chat"
    assert error.raw == line
    assert "(1013 bytes)" in str(error)
    assert len(str(error)) < 400


def test_stream_error_keeps_server_message() -> None:
    events = parse_parts([(FIXTURES / "tgi" / "chat_stream_error_midstream.body").read_bytes()])
    assert isinstance(events[-1], ModelStreamError)
    assert events[-1].message.startswith(
        "Request failed during generation: Server error: CUDA out of memory."
    )
