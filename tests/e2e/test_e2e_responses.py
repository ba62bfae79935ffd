"""The official `openai` SDK, unmodified → the agent API's Responses API (`/v1/responses`) → Strands →
emulator → vLLM CPU. The local stack has a sessions bucket (moto's S3), so responses are stored there."""

import json

import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseOutputMessage, ResponseStreamEvent
from openai.types.responses.response_output_item import McpCall

from agent_api import contract
from agent_api.tools import get_weather
from local.emulator import Faults, Invocation
from local.stack import EXAMPLE_PROMPT, LocalDeployment
from local.tiny_model.script import CALL_ARGUMENTS, CALLED_TOOL, PLAIN_TEXT, TOOL_RESULT_TEXT
from tests.support.openai_sdk import openai_client

pytestmark = pytest.mark.e2e

MODEL = contract.OPENAI_MODEL_ID


def client(stack: LocalDeployment) -> openai.OpenAI:
    # The local stack has no authentication: any API key does.
    return openai_client(stack.agent_url)


def sent_messages(call: Invocation) -> str:
    """The messages of a model call, as one text to search."""
    return json.dumps(json.loads(call.body)["messages"])


def test_a_whole_response_is_stored_retrieved_and_deleted(text_api: LocalDeployment) -> None:
    sdk = client(text_api)
    response = sdk.responses.create(model=MODEL, input="Hello")

    assert (response.status, response.output_text) == ("completed", PLAIN_TEXT)
    assert response.id.startswith("resp_")
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0
    stored = sdk.responses.retrieve(response.id)
    assert (stored.id, stored.output_text, stored.usage) == (response.id, PLAIN_TEXT, response.usage)
    sdk.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.responses.retrieve(response.id)
    assert raised.value.code == "not_found"


def test_the_sdks_stream_helper_reads_a_streamed_response(text_api: LocalDeployment) -> None:
    with client(text_api).responses.stream(model=MODEL, input="Hello") as stream:
        events = list(stream)
        final = stream.get_final_response()

    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text == PLAIN_TEXT
    assert [events[0].type, events[-1].type] == ["response.created", "response.completed"]
    assert final.status == "completed"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_previous_response_id_sends_the_stored_conversation_to_the_model(
    text_api: LocalDeployment, text_model_calls: list[Invocation]
) -> None:
    sdk = client(text_api)
    first = sdk.responses.create(model=MODEL, input="My name is Ada.")
    with sdk.responses.stream(model=MODEL, input="What is my name?", previous_response_id=first.id) as stream:
        second = stream.get_final_response()

    assert second.previous_response_id == first.id
    assert second.id != first.id
    assert second.output_text == PLAIN_TEXT
    assert len(text_model_calls) == 2
    sent = sent_messages(text_model_calls[1])
    assert sent.index("My name is Ada.") < sent.index(PLAIN_TEXT) < sent.index("What is my name?")


def test_the_agents_tool_call_is_an_mcp_call_item_and_its_result_is_continued(
    tools_api: LocalDeployment,
) -> None:
    sdk = client(tools_api)
    with sdk.responses.stream(model=MODEL, input=EXAMPLE_PROMPT) as stream:
        types = [event.type for event in stream]
        first = stream.get_final_response()

    call, answer = first.output
    assert isinstance(call, McpCall) and isinstance(answer, ResponseOutputMessage)
    assert (call.name, json.loads(call.arguments), call.status) == (CALLED_TOOL, CALL_ARGUMENTS, "completed")
    assert (call.server_label, call.output, call.error) == ("agent", get_weather(**CALL_ARGUMENTS), None)
    assert first.output_text == TOOL_RESULT_TEXT
    assert "response.mcp_call.completed" in types
    assert not any(item.type == "function_call" for item in first.output)

    # The tool result is in the stored conversation: the tiny model answers from it at once, with no call.
    second = sdk.responses.create(model=MODEL, input=EXAMPLE_PROMPT, previous_response_id=first.id)
    assert [item.type for item in second.output] == ["message"]
    assert second.output_text == TOOL_RESULT_TEXT


def test_errors_are_openais_and_reach_no_model(
    text_api: LocalDeployment, text_model_calls: list[Invocation]
) -> None:
    sdk = client(text_api)
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk.responses.create(model=MODEL, input="Hello", previous_response_id=f"resp_{'0' * 32}")
    assert unknown.value.code == "previous_response_not_found"
    assert unknown.value.param == "previous_response_id"

    weather: FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object"},
        "strict": False,
    }
    with pytest.raises(openai.BadRequestError) as tools:
        sdk.responses.create(model=MODEL, input="Hello", tools=[weather])
    assert tools.value.code == "tools_not_supported"

    with pytest.raises(openai.NotFoundError) as model:
        sdk.responses.create(model="gpt-5", input="Hello")
    assert model.value.code == "model_not_found"
    assert text_model_calls == []


def test_a_model_error_mid_stream_is_raised_by_the_sdk_and_nothing_is_stored(
    text_api: LocalDeployment,
) -> None:
    # About 600 bytes: the role chunk, the "Hello" chunk and part of the next one.
    text_api.emulator.set_faults(Faults(stream_error_after_bytes=600))
    sdk = client(text_api)
    events: list[ResponseStreamEvent] = []
    with pytest.raises(openai.APIError) as raised, sdk.responses.stream(model=MODEL, input="Hello") as stream:
        events.extend(stream)

    assert raised.value.code == "model_error"
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text and PLAIN_TEXT.startswith(text)
    created = events[0]
    assert created.type == "response.created"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.response.id)
