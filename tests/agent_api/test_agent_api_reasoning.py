"""The model's reasoning reaches the stream as `reasoning` events, unless AGENT_STREAM_REASONING is false."""

from __future__ import annotations

import json
from typing import Any

from tests.agent_api.harness import HarnessFactory
from tests.support.sagemaker_runtime import Stream


def _chunk(finish: str | None = None, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode() + b"\n\n"


# vLLM >= 0.10 names the field `reasoning` (vllm/entrypoints/openai/protocol.py DeltaMessage); older vLLM and
# SGLang name it `reasoning_content`: one of each.
REASONING_STREAM = [
    _chunk(role="assistant", content=""),
    _chunk(reasoning="The user greets me. "),
    _chunk(reasoning_content="I greet back."),
    _chunk(content="Hello!"),
    _chunk(finish="stop"),
    b"data: [DONE]\n\n",
]


def test_reasoning_streams_as_reasoning_events_before_the_text(harness: HarnessFactory) -> None:
    app = harness([Stream(REASONING_STREAM)])
    events = app.chat({"prompt": "Hi"})
    assert [(event.event, event.json().get("delta")) for event in events[:-1]] == [
        ("reasoning", "The user greets me. "),
        ("reasoning", "I greet back."),
        ("text", "Hello!"),
    ]
    assert events[-1].event == "done"


def test_reasoning_events_can_be_turned_off(harness: HarnessFactory) -> None:
    app = harness([Stream(REASONING_STREAM)], stream_reasoning=False)
    events = app.chat({"prompt": "Hi"})
    assert [event.event for event in events] == ["text", "done"]
