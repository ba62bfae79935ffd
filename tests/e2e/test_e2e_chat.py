"""Client (agent_client) → agent API (uvicorn) → Strands → provider → boto3 → emulator → vLLM CPU."""

import uuid

import pytest

from local.emulator import Faults
from local.stack import LocalDeployment
from local.tiny_model.script import CALL_ARGUMENTS, CALLED_TOOL, PLAIN_TEXT, TOOL_RESULT_TEXT
from tests.e2e.sse_chat import chat

pytestmark = pytest.mark.e2e


def test_answer_arrives_as_several_text_events_then_done(text_api: LocalDeployment) -> None:
    result = chat(text_api.agent_url, prompt="Hello")

    assert result.status == 200
    assert result.text == PLAIN_TEXT
    assert len(result.named("text")) > 1
    assert result.names[-1] == "done"
    assert result.events[-1].data["stop_reason"] == "end_turn"


def test_first_text_event_arrives_while_the_rest_is_still_on_its_way(text_api: LocalDeployment) -> None:
    # The emulator holds each part back for 0.3 s: an API that buffered the answer would send every
    # text event together, after the last part.
    text_api.emulator.set_faults(Faults(part_delay=0.3))

    result = chat(text_api.agent_url, prompt="Hello")

    texts = result.named("text")
    assert result.text == PLAIN_TEXT
    assert texts[-1].arrived - texts[0].arrived > 1.0


def test_usage_counts_the_tokens_of_the_turn(text_api: LocalDeployment) -> None:
    result = chat(text_api.agent_url, prompt="Hello")

    usage = result.events[-1].data["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0


def test_tool_call_is_run_and_its_result_answered(tools_api: LocalDeployment) -> None:
    result = chat(tools_api.agent_url, prompt="What is the weather in Paris?")

    [tool_use] = result.named("tool_use")
    [tool_result] = result.named("tool_result")
    assert (tool_use.data["name"], tool_use.data["input"]) == (CALLED_TOOL, CALL_ARGUMENTS)
    assert tool_result.data["id"] == tool_use.data["id"]
    assert tool_result.data["status"] == "success"
    assert result.names.index("tool_result") < result.names.index("text")
    assert result.text == TOOL_RESULT_TEXT
    assert result.names[-1] == "done"


def test_session_continues_with_the_previous_turns(text_api: LocalDeployment) -> None:
    session_id = f"e2e-{uuid.uuid4().hex}"

    first = chat(text_api.agent_url, prompt="Hello", session_id=session_id)
    second = chat(text_api.agent_url, prompt="Hello", session_id=session_id)

    assert first.events[-1].data["session_id"] == second.events[-1].data["session_id"] == session_id
    # The second turn sends the first exchange again, so the model reads more tokens.
    assert second.events[-1].data["usage"]["input_tokens"] > first.events[-1].data["usage"]["input_tokens"]


def test_throttling_beyond_the_retries_is_a_429_model_throttled(text_api: LocalDeployment) -> None:
    text_api.emulator.set_faults(Faults(throttle_requests=100))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.status == 429
    assert result.error_body is not None
    assert result.error_body["code"] == "model_throttled"


def test_throttling_within_the_retries_is_invisible(text_api: LocalDeployment) -> None:
    text_api.emulator.set_faults(Faults(throttle_requests=1))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.text == PLAIN_TEXT


@pytest.mark.parametrize("error_type", ["ModelStreamError", "InternalStreamFailure"])
def test_mid_stream_error_ends_the_stream_with_an_error_event_after_the_text_so_far(
    text_api: LocalDeployment, error_type: str
) -> None:
    # About 600 bytes: the role chunk, the "Hello" chunk and part of the next one.
    text_api.emulator.set_faults(Faults(stream_error_after_bytes=600, stream_error_type=error_type))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.status == 200
    assert PLAIN_TEXT.startswith(result.text)
    assert result.text
    assert result.names[-1] == "error"
    assert result.events[-1].data["code"] == "model_error"


def test_stream_error_before_any_text_is_a_502_model_error(text_api: LocalDeployment) -> None:
    text_api.emulator.set_faults(Faults(stream_error_after_bytes=0))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.status == 502
    assert result.error_body is not None
    assert result.error_body["code"] == "model_error"


@pytest.mark.parametrize("size", [1, 3, 7])
def test_payload_split_at_awkward_offsets_gives_the_same_text(text_api: LocalDeployment, size: int) -> None:
    text_api.emulator.set_faults(Faults(split_every=size))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.text == PLAIN_TEXT
    assert result.names[-1] == "done"


def test_tool_call_split_at_awkward_offsets_gives_the_same_call(tools_api: LocalDeployment) -> None:
    tools_api.emulator.set_faults(Faults(split_every=5))

    result = chat(tools_api.agent_url, prompt="What is the weather in Paris?")

    [tool_use] = result.named("tool_use")
    assert tool_use.data["input"] == CALL_ARGUMENTS
    assert result.text == TOOL_RESULT_TEXT


def test_slow_first_byte_still_gives_the_whole_answer(text_api: LocalDeployment) -> None:
    text_api.emulator.set_faults(Faults(first_byte_delay=1.0))

    result = chat(text_api.agent_url, prompt="Hello")

    assert result.text == PLAIN_TEXT
