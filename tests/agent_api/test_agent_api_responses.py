"""`POST /v1/responses`, read with the official `openai` SDK, unmodified (raw HTTP for bad input and for the
stream's exact events, each validated with the SDK's own models), against the real provider reading recorded
streams from the SageMaker-runtime emulator, under real uvicorn."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from agent_api import contract
from local.tiny_model.script import PLAIN_TEXT as HELLO
from local.tiny_model.script import TOOL_RESULT_TEXT as AFTER_TOOL
from tests.agent_api.harness import HarnessFactory
from tests.agent_api.responses_support import raw_events, sdk, validated, validated_response
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import ModelError, Stream, Throttle

MODEL = contract.OPENAI_MODEL_ID
RESPONSES = contract.OPENAI_RESPONSES_PATH


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def tool_turn() -> list[Stream]:
    return [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]


def _chunk(finish: str | None = None, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode() + b"\n\n"


def reasoning_then_text() -> Stream:
    return Stream(
        [
            _chunk(role="assistant", content=""),
            _chunk(reasoning="The user greets me."),
            _chunk(content="Hello!"),
            _chunk(finish="stop"),
            b"data: [DONE]\n\n",
        ]
    )


def cut_by_the_token_limit() -> Stream:
    return Stream([_chunk(role="assistant", content="Hel"), _chunk(finish="length"), b"data: [DONE]\n\n"])


# --- answers ----------------------------------------------------------------------------------------------
def test_a_whole_response_carries_the_answer_usage_and_a_new_id(harness: HarnessFactory) -> None:
    app = harness([hello(), hello()])
    client = sdk(app)
    first = client.responses.create(model=MODEL, input="Hi")
    second = client.responses.create(model=MODEL, input="Hi")
    assert first.output_text == HELLO
    assert (first.object, first.model, first.status) == ("response", MODEL, "completed")
    assert first.id.startswith("resp_") and first.id != second.id
    assert first.usage is not None
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens > 0
    [message] = first.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")


def test_the_whole_body_is_valid_for_the_sdks_own_model(harness: HarnessFactory) -> None:
    app = harness([hello()])
    body = app.client.post(RESPONSES, json={"model": MODEL, "input": "Hi"}).json()
    response = validated_response(body)
    assert response.output_text == HELLO
    assert body["agent_done"]["stop_reason"] == "end_turn"
    assert body["agent_done"]["usage"]["output_tokens"] == response.usage.output_tokens  # type: ignore[union-attr]


def test_a_streamed_response_is_read_by_the_sdks_stream_helper(harness: HarnessFactory) -> None:
    app = harness([hello()])
    with sdk(app).responses.stream(model=MODEL, input="Hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text == HELLO
    assert final.status == "completed"


def test_the_streamed_events_follow_openais_sequence_and_models(harness: HarnessFactory) -> None:
    app = harness([hello()])
    events = validated(raw_events(app, {"model": MODEL, "input": "Hi"}))
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created, completed = events[0].response, events[-1].response
    assert created.id == completed.id and created.status == "in_progress" and created.output == []
    assert completed.output_text == HELLO
    assert {event.item_id for event in events[3:-2]} == {completed.output[0].id}


def test_the_sdks_create_with_stream_reads_every_event(harness: HarnessFactory) -> None:
    app = harness([hello()])
    events = list(sdk(app).responses.create(model=MODEL, input="Hi", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == HELLO  # type: ignore[union-attr]


def test_tool_calls_are_mcp_call_items_with_their_results_never_function_calls(
    harness: HarnessFactory,
) -> None:
    app = harness(tool_turn())
    response = sdk(app).responses.create(model=MODEL, input="What is 6 * 7?")
    call, answer = response.output
    assert call.type == "mcp_call"
    assert (call.name, call.server_label, call.status, call.output) == (
        "calculator",
        "agent",
        "completed",
        "42",
    )
    assert json.loads(call.arguments) == {"expression": "6 * 7"}
    assert answer.type == "message"
    assert response.output_text == AFTER_TOOL
    assert not [item for item in response.output if item.type == "function_call"]


def test_streamed_tool_calls_announce_their_progress(harness: HarnessFactory) -> None:
    app = harness(tool_turn())
    events = validated(raw_events(app, {"model": MODEL, "input": "What is 6 * 7?"}))
    types = [event.type for event in events]
    assert types[2:8] == [
        "response.output_item.added",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert (events[2].item.status, events[7].item.status, events[7].item.output) == (
        "in_progress",
        "completed",
        "42",
    )
    assert events[-1].response.output_text == AFTER_TOOL


def test_reasoning_is_a_reasoning_item_before_the_answer(harness: HarnessFactory) -> None:
    app = harness([reasoning_then_text(), reasoning_then_text()])
    response = sdk(app).responses.create(model=MODEL, input="Hi")
    reasoning, message = response.output
    assert (reasoning.type, message.type) == ("reasoning", "message")
    assert [part.text for part in reasoning.content or []] == ["The user greets me."]
    assert response.output_text == "Hello!"
    events = validated(raw_events(app, {"model": MODEL, "input": "Hi"}))
    assert [event.type for event in events if "reasoning_text" in event.type] == [
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
    ]


def test_an_answer_cut_by_the_token_limit_is_an_incomplete_response(harness: HarnessFactory) -> None:
    app = harness([cut_by_the_token_limit(), cut_by_the_token_limit()])
    response = sdk(app).responses.create(model=MODEL, input="Hi", max_output_tokens=3)
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert response.output_text == "Hel"
    events = validated(raw_events(app, {"model": MODEL, "input": "Hi"}))
    assert events[-1].type == "response.incomplete"


def test_input_messages_become_the_conversation_and_instructions_follow_the_system_prompt(
    harness: HarnessFactory,
) -> None:
    app = harness([hello()], system_prompt="Deployment rules.")
    sdk(app).responses.create(
        model=MODEL,
        instructions="Answer in French.",
        input=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "My name is Ada."},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello Ada."}],
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"role": "user", "content": [{"type": "input_text", "text": "What is my name?"}]},
        ],
    )
    sent = app.runtime.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    system = str(sent[0]["content"])
    assert system.index("Deployment rules.") < system.index("Answer in French.") < system.index("Be brief.")
    assert [
        "My name is Ada." in str(sent[1]),
        "Hello Ada." in str(sent[2]),
        "What is my name?" in str(sent[3]),
    ] == [
        True,
        True,
        True,
    ]


def test_request_parameters_reach_the_model_and_are_echoed(harness: HarnessFactory) -> None:
    app = harness([hello()])
    response = sdk(app).responses.create(
        model=MODEL, input="Hi", max_output_tokens=64, temperature=0.5, top_p=0.9, metadata={"ticket": "7"}
    )
    body = app.runtime.bodies[0]
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (64, 0.5, 0.9)
    assert (response.max_output_tokens, response.temperature, response.top_p) == (64, 0.5, 0.9)
    assert response.metadata == {"ticket": "7"}


# --- errors -----------------------------------------------------------------------------------------------
VALID: dict[str, Any] = {"model": MODEL, "input": "Hi"}


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"input": "Hi"}, 400, "missing_field", "model"),
        ({**VALID, "model": "gpt-5"}, 404, "model_not_found", "model"),
        ({**VALID, "tools": [{"type": "function", "name": "f"}]}, 400, "tools_not_supported", "tools"),
        ({**VALID, "tool_choice": "required"}, 400, "tools_not_supported", "tool_choice"),
        (
            {**VALID, "input": [{"type": "function_call_output", "call_id": "1", "output": "42"}]},
            400,
            "tools_not_supported",
            "input[0]",
        ),
        ({**VALID, "input": ""}, 400, "invalid_field", "input[0].content"),
        ({**VALID, "input": []}, 400, "invalid_field", "input"),
        ({**VALID, "input": 7}, 400, "invalid_field", "input"),
        ({**VALID, "input": [{"role": "robot", "content": "Hi"}]}, 400, "invalid_field", "input[0].role"),
        ({**VALID, "input": [{"role": "assistant", "content": "Hi"}]}, 400, "invalid_field", "input"),
        (
            {**VALID, "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            400,
            "unsupported_content",
            "input[0].content",
        ),
        ({**VALID, "input": [{"type": "item_reference", "id": "x"}]}, 400, "unsupported_content", "input[0]"),
        ({**VALID, "instructions": "y" * 99}, 400, "prompt_too_long", "input"),
        ({**VALID, "conversation": "conv_1"}, 400, "unsupported_parameter", "conversation"),
        ({**VALID, "prompt": {"id": "p"}}, 400, "unsupported_parameter", "prompt"),
        ({**VALID, "text": {"format": {"type": "json_object"}}}, 400, "unsupported_parameter", "text.format"),
        ({**VALID, "background": True}, 400, "unsupported_parameter", "background"),
        ({**VALID, "top_p": 0}, 400, "invalid_field", "top_p"),
        ({**VALID, "max_output_tokens": 513}, 400, "invalid_field", "max_output_tokens"),
        ({**VALID, "temperature": 3}, 400, "invalid_field", "temperature"),
        ({**VALID, "stream": "yes"}, 400, "invalid_field", "stream"),
        ({**VALID, "instructions": 7}, 400, "invalid_field", "instructions"),
        ({**VALID, "previous_response_id": 7}, 400, "invalid_field", "previous_response_id"),
        ({**VALID, "previous_response_id": "resp_1"}, 400, "sessions_disabled", "previous_response_id"),
        ({**VALID, "store": True}, 400, "sessions_disabled", "store"),
        ([VALID], 400, "invalid_body", None),
    ],
)
def test_bad_input_gets_an_openai_error_and_never_reaches_the_model(
    harness: HarnessFactory, body: Any, status: int, code: str, param: str | None
) -> None:
    app = harness([hello()], max_prompt_chars=100, max_tokens=512)
    response = app.client.post(RESPONSES, json=body)
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]
    assert app.runtime.requests == []


def test_what_clients_send_by_default_is_accepted(harness: HarnessFactory) -> None:
    app = harness([hello()])
    response = sdk(app).responses.create(
        model=MODEL,
        input="Hi",
        store=False,
        user="u-1",
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[],
        reasoning={"effort": "low", "summary": "auto"},
        text={"format": {"type": "text"}, "verbosity": "medium"},
        truncation="auto",
        include=["reasoning.encrypted_content"],
        prompt_cache_key="k",
        service_tier="auto",
        stream_options=None,
    )
    assert response.output_text == HELLO


def test_the_sdk_raises_bad_request_for_client_tools(harness: HarnessFactory) -> None:
    app = harness([hello()])
    with pytest.raises(openai.BadRequestError) as raised:
        sdk(app).responses.create(
            model=MODEL,
            input="Hi",
            tools=[{"type": "function", "name": "f", "parameters": {}, "strict": True}],
        )
    assert raised.value.code == "tools_not_supported"


def test_throttling_before_any_output_is_a_429_rate_limit_error(harness: HarnessFactory) -> None:
    app = harness([Throttle()])
    with pytest.raises(openai.RateLimitError) as raised:
        sdk(app).responses.create(model=MODEL, input="Hi")
    assert raised.value.code == "model_throttled"


def test_an_endpoint_error_before_any_output_is_a_502_server_error(harness: HarnessFactory) -> None:
    app = harness([ModelError(500, '{"error": "boom"}')])
    with pytest.raises(openai.InternalServerError) as raised:
        sdk(app).responses.create(model=MODEL, input="Hi")
    assert raised.value.status_code == 502
    assert raised.value.code == "model_error"


def test_an_error_mid_stream_is_raised_by_the_sdk_and_fails_the_response(harness: HarnessFactory) -> None:
    truncated = fixture_parts("vllm/chat_stream_usage.txt")[:5]
    app = harness([Stream(truncated), Stream(truncated)])
    texts: list[str] = []
    with (
        pytest.raises(openai.APIError) as raised,
        sdk(app).responses.stream(model=MODEL, input="Hi") as stream,
    ):
        texts.extend(event.delta for event in stream if event.type == "response.output_text.delta")
    assert "".join(texts) == "Hello! I am"
    assert raised.value.code == "stream_truncated"
    events = raw_events(app, {"model": MODEL, "input": "Hi"})
    assert [event["type"] for event in events[-2:]] == ["error", "response.failed"]
    error, failed = validated(events)[-2:]
    assert (error.code, error.message) == ("stream_truncated", events[-2]["error"]["message"])
    assert failed.response.status == "failed"
    assert failed.response.error.code == "server_error"
    assert [item.status for item in failed.response.output] == ["incomplete"]
