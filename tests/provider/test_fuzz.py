"""Whatever a server sends, the provider answers with events or a typed error, never a stray exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strands.types.exceptions import ContextWindowOverflowException

from sagemaker_provider.errors import SageMakerProviderError
from tests.provider.helpers import parse_parts

KEYS = [
    "choices",
    "delta",
    "message",
    "content",
    "reasoning_content",
    "tool_calls",
    "function",
    "arguments",
    "name",
    "id",
    "index",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "object",
    "token",
    "text",
    "special",
    "generated_text",
    "details",
    "generated_tokens",
    "input_length",
    "error",
    "type",
]
scalars = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "stop", "x", "tool_calls", "{"])
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=12,
)
framings = st.sampled_from([b"data: %s\n\n", b"data:%s\r\n\r\n", b"%s\n"])


def assert_events_or_typed_error(events: list[Any]) -> None:
    """A parse ends in one typed error, or in a whole message Strands can read: start, stop, metadata."""
    if isinstance(events[-1], Exception):
        assert isinstance(events[-1], SageMakerProviderError | ContextWindowOverflowException), repr(
            events[-1]
        )
        return
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert [next(iter(event)) for event in events[-2:]] == ["messageStop", "metadata"]
    assert not any(isinstance(event, Exception) for event in events)


@settings(max_examples=400, deadline=None)
@given(
    payloads=st.lists(values, min_size=1, max_size=4),
    framing=framings,
    format_name=st.sampled_from(["auto", "openai-chat", "tgi", "lmi"]),
)
def test_arbitrary_json_payloads_give_events_or_typed_errors(
    payloads: list[Any], framing: bytes, format_name: str
) -> None:
    body = b"".join(framing % json.dumps(p).encode() for p in payloads)
    assert_events_or_typed_error(parse_parts([body], format_name))


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), format_name=st.sampled_from(["auto", "openai-chat", "tgi", "lmi"]))
def test_arbitrary_bytes_give_events_or_typed_errors(body: bytes, format_name: str) -> None:
    assert_events_or_typed_error(parse_parts([body], format_name))
