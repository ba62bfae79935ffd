"""Reasoning from real vLLM CPU (``qwen3`` reasoning parser) through the agent API's SSE stream.

The tiny model reasons in ``<think>`` tags when the prompt says "ponder".
"""

import pytest

from local.stack import LocalStack
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e


def test_reasoning_streams_as_reasoning_events_before_the_answer(reasoning_stack: LocalStack) -> None:
    result = chat(reasoning_stack.agent_url, prompt="Please ponder the meaning of life.")

    assert result.status == 200
    reasoning = "".join(event.data["delta"] for event in result.named("reasoning"))
    assert reasoning.strip() == "Pondering deeply"
    assert result.text.strip() == "Forty-two"
    assert result.names.index("reasoning") < result.names.index("text")
    assert result.names[-1] == "done"
