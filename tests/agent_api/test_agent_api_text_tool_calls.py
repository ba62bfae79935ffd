"""`AGENT_TEXT_TOOL_CALLS`: the agent reads a tool call left in the answer's text in its model family's syntax
only (issue 25 item 10), as the stack sets it from the model profile."""

from __future__ import annotations

import json

import pytest

from agent_api import contract
from sagemaker_provider.text_tool_calls import SYNTAXES
from tests.agent_api.harness import HarnessFactory
from tests.support.sagemaker_runtime import Stream

HERMES_CALL = '<tool_call>{"name": "calculator", "arguments": {"expression": "6 * 7"}}</tool_call>'


def text_answer(text: str) -> list[bytes]:
    """A vLLM-style chat stream whose whole answer is `text` (the server's tool parser left it there)."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}},
    ]
    return [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]


def test_the_contract_names_the_providers_syntaxes() -> None:
    assert contract.TEXT_TOOL_CALL_SYNTAXES == SYNTAXES


def test_a_call_in_the_families_syntax_runs(harness: HarnessFactory) -> None:
    app = harness(
        [Stream(text_answer(HERMES_CALL)), Stream(text_answer("It is 42."))], text_tool_calls="hermes"
    )
    events = app.chat({"prompt": "What is 6 times 7?"})
    calls = [event.json() for event in events if event.event == "tool_use"]
    assert [(call["name"], call["input"]) for call in calls] == [("calculator", {"expression": "6 * 7"})]
    assert [event.json()["content"] for event in events if event.event == "tool_result"] == ["42"]


@pytest.mark.parametrize("syntax", ["llama3_json", contract.TEXT_TOOL_CALLS_OFF])
def test_another_syntax_in_the_text_stays_text(harness: HarnessFactory, syntax: str) -> None:
    # An example of a Hermes call, written by a model of another family (or with recovery off), is prose.
    app = harness([Stream(text_answer(HERMES_CALL))], text_tool_calls=syntax)
    events = app.chat({"prompt": "Show me what a calculator call looks like"})
    assert [event.event for event in events if event.event.startswith("tool")] == []
    assert "".join(event.json()["delta"] for event in events if event.event == "text") == HERMES_CALL
