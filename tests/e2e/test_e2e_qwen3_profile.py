"""The ``qwen3`` model profile on real vLLM CPU (``hermes`` tool-call parser, ``qwen3`` reasoning parser),
through the agent API's SSE stream.

The tiny model reasons in ``<think>`` tags when the prompt says "ponder", and writes its tool call in Hermes
syntax when the prompt says "hermes" (local/tiny_model/script.py).
"""

import pytest

from local.stack import LocalDeployment
from local.tiny_model.script import (
    CALL_ARGUMENTS,
    CALLED_TOOL,
    REASONING_ANSWER_TEXT,
    THOUGHT_TEXT,
    TOOL_RESULT_TEXT,
)
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e


def test_reasoning_streams_as_reasoning_events_before_the_answer(reasoning_stack: LocalDeployment) -> None:
    result = chat(reasoning_stack.agent_url, prompt="Please ponder the meaning of life.")

    assert result.status == 200
    reasoning = "".join(event.data["delta"] for event in result.named("reasoning"))
    assert reasoning.strip() == THOUGHT_TEXT
    assert result.text.strip() == REASONING_ANSWER_TEXT
    assert result.names.index("reasoning") < result.names.index("text")
    assert result.names[-1] == "done"


def test_a_hermes_tool_call_is_run_and_its_result_answered(qwen3_tools_stack: LocalDeployment) -> None:
    result = chat(qwen3_tools_stack.agent_url, prompt="What is the weather in Paris, hermes style?")

    [tool_use] = result.named("tool_use")
    [tool_result] = result.named("tool_result")
    assert (tool_use.data["name"], tool_use.data["input"]) == (CALLED_TOOL, CALL_ARGUMENTS)
    assert tool_result.data["id"] == tool_use.data["id"]
    assert tool_result.data["status"] == "success"
    # The tiny model answers the result without <think> tags, which the qwen3 reasoning parser reads as
    # reasoning: the answer arrives as reasoning events.
    reasoning = "".join(event.data["delta"] for event in result.named("reasoning"))
    assert reasoning == TOOL_RESULT_TEXT
    assert result.names.index("tool_result") < result.names.index("reasoning")
    assert result.names[-1] == "done"
