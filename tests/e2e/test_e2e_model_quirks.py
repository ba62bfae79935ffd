"""Reasoning and tool calls left in the text, from real vLLM CPU through the agent API's SSE stream.

The tiny model reasons in ``<think>`` tags when the prompt says "ponder", and writes its weather call in
Hermes syntax when the prompt says "hermes": the server's ``llama3_json`` tool parser leaves that call as
text, and the provider recovers it.
"""

import pytest

from local.stack import LocalStack
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e

AFTER_TOOL_REPLY = "Sunny in Paris, 21 degrees"


def test_reasoning_streams_as_reasoning_events_before_the_answer(reasoning_stack: LocalStack) -> None:
    result = chat(reasoning_stack.agent_url, prompt="Please ponder the meaning of life.")

    assert result.status == 200
    reasoning = "".join(event.data["delta"] for event in result.named("reasoning"))
    assert reasoning.strip() == "Pondering deeply"
    assert result.text.strip() == "Forty-two"
    assert result.names.index("reasoning") < result.names.index("text")
    assert "<think>" not in result.text and "</think>" not in result.text
    assert result.names[-1] == "done"


def test_hermes_call_left_as_text_is_run_as_a_tool_call(tools_api: LocalStack) -> None:
    result = chat(tools_api.agent_url, prompt="What is the weather in Paris, hermes style?")

    [tool_use] = result.named("tool_use")
    [tool_result] = result.named("tool_result")
    assert (tool_use.data["name"], tool_use.data["input"]) == ("get_weather", {"city": "Paris"})
    assert tool_result.data["id"] == tool_use.data["id"]
    assert tool_result.data["status"] == "success"
    assert result.names.index("tool_result") < result.names.index("text")
    assert result.text == AFTER_TOOL_REPLY
    assert "<tool_call>" not in result.text
    assert result.names[-1] == "done"
