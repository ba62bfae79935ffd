"""`/v1/chat/completions` and `/v1/models`, read with the official `openai` SDK (raw HTTP for bad input),
against the real provider reading recorded streams from a fake SageMaker runtime, under real uvicorn."""

from __future__ import annotations

import threading
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from agent_api import contract
from local.tiny_model.script import PLAIN_TEXT as HELLO
from local.tiny_model.script import TOOL_RESULT_TEXT as AFTER_TOOL
from tests.agent_api.harness import FAST_RETRIES, Harness, HarnessFactory
from tests.support.openai_sdk import openai_client
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import ModelError, Stream, Throttle

MODEL = contract.OPENAI_MODEL_ID
COMPLETIONS = contract.OPENAI_CHAT_COMPLETIONS_PATH


def hello() -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"))


def tool_turn() -> list[Stream]:
    return [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]


def sdk(app: Harness, **headers: str) -> openai.OpenAI:
    return openai_client(str(app.client.base_url), **headers)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def stream_chunks(client: openai.OpenAI, **kwargs: Any) -> list[ChatCompletionChunk]:
    return list(client.chat.completions.create(model=MODEL, stream=True, **kwargs))


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --- /v1/models -------------------------------------------------------------------------------------------
def test_models_lists_the_agent(harness: HarnessFactory) -> None:
    [model] = sdk(harness([hello()])).models.list().data
    assert (model.id, model.object, model.owned_by) == (MODEL, "model", contract.SERVICE_NAME)


# --- answers ----------------------------------------------------------------------------------------------
def test_a_whole_completion_carries_the_answer_finish_reason_and_usage(harness: HarnessFactory) -> None:
    completion = sdk(harness([hello()])).chat.completions.create(model=MODEL, messages=[user("Hi")])
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    [choice] = completion.choices
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", HELLO, "stop")
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (96, 10)
    assert completion.usage.total_tokens == 106


def test_a_streamed_completion_arrives_as_several_chunks_ending_with_done(harness: HarnessFactory) -> None:
    app = harness([hello()])
    chunks = stream_chunks(sdk(app), messages=[user("Hi")])
    assert chunks[0].choices[0].delta.role == "assistant"
    assert text_of(chunks) == HELLO
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks].count("stop") == 1
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    raw = app.client.post(COMPLETIONS, json={"model": MODEL, "messages": [user("Hi")], "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")


def test_include_usage_adds_a_last_usage_chunk_and_null_usage_before_it(harness: HarnessFactory) -> None:
    chunks = stream_chunks(
        sdk(harness([hello()])), messages=[user("Hi")], stream_options={"include_usage": True}
    )
    *before, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (96, 10, 106)
    assert all(c.usage is None and "usage" in c.model_fields_set for c in before)


def test_tool_activity_streams_as_agent_events_never_as_tool_calls(harness: HarnessFactory) -> None:
    chunks = stream_chunks(sdk(harness(tool_turn())), messages=[user("What is 6 times 7?")])
    assert all(c.choices[0].delta.tool_calls is None for c in chunks)
    events = [
        c.model_extra["agent_event"] for c in chunks if c.model_extra and "agent_event" in c.model_extra
    ]
    tool_use, tool_result = events
    assert (tool_use["type"], tool_use["name"], tool_use["input"]) == (
        "tool_use",
        "calculator",
        {"expression": "6 * 7"},
    )
    assert tool_result == {
        "type": "tool_result",
        "id": tool_use["id"],
        "name": "calculator",
        "status": "success",
        "content": "42",
    }
    assert text_of(chunks) == AFTER_TOOL
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_whole_completion_lists_its_tool_activity_in_agent_events(harness: HarnessFactory) -> None:
    completion = sdk(harness(tool_turn())).chat.completions.create(
        model=MODEL, messages=[user("What is 6 times 7?")]
    )
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content == AFTER_TOOL
    assert completion.model_extra is not None
    assert [e["type"] for e in completion.model_extra["agent_events"]] == ["tool_use", "tool_result"]


def test_history_becomes_the_conversation_and_system_messages_follow_the_system_prompt(
    harness: HarnessFactory,
) -> None:
    app = harness([hello()], system_prompt="Deployment rules.")
    sdk(app).chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Answer in French."},
            user("My name is Ada."),
            {"role": "assistant", "content": "Hello Ada."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "my name?"}],
            },
        ],
    )
    sent = app.runtime.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert str(sent[0]["content"]).index("Deployment rules.") < str(sent[0]["content"]).index(
        "Answer in French."
    )
    assert "My name is Ada." in str(sent[1]["content"])
    assert "Hello Ada." in str(sent[2]["content"])
    assert "What is my name?" in str(sent[3]["content"])


def test_request_limits_reach_the_model(harness: HarnessFactory) -> None:
    app = harness([hello(), hello()])
    client = sdk(app)
    client.chat.completions.create(model=MODEL, messages=[user("Hi")], max_tokens=64, temperature=0.5)
    client.chat.completions.create(model=MODEL, messages=[user("Hi")], max_completion_tokens=32)
    assert (app.runtime.bodies[0]["max_tokens"], app.runtime.bodies[0]["temperature"]) == (64, 0.5)
    assert app.runtime.bodies[1]["max_tokens"] == 32


def test_the_session_header_continues_the_stored_conversation(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    client = sdk(app, **{contract.SESSION_ID_HEADER: "conv-1"})
    client.chat.completions.create(model=MODEL, messages=[user("My name is Ada.")])
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[user("Not sent: the session holds the history."), user("What is my name?")],
    )
    assert raw.headers[contract.SESSION_ID_HEADER] == "conv-1"
    history = str(app.runtime.bodies[1]["messages"])
    assert "My name is Ada." in history
    assert HELLO in history
    assert "What is my name?" in history
    assert "Not sent" not in history


def test_a_whole_completion_the_sdk_gave_up_on_is_dropped_so_its_retry_stores_the_prompt_once(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    # The first answer is held past the SDK's timeout, then released; the SDK times out and retries.
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=0)
    app = harness([held, hello(), hello()], sessions_bucket=sessions_bucket)
    client = openai.OpenAI(
        base_url=f"{app.client.base_url}{contract.OPENAI_PREFIX}",
        api_key="local",
        timeout=2.0,
        max_retries=3,
        default_headers={contract.SESSION_ID_HEADER: "conv-1"},
    )
    release = threading.Timer(4.0, held.resume.set)
    release.start()
    try:
        completion = client.chat.completions.create(model=MODEL, messages=[user("Remember 7f3a.")])
    finally:
        release.cancel()
    assert completion.choices[0].message.content == HELLO
    # The next turn is sent the stored conversation: the prompt is in it once.
    client.chat.completions.create(model=MODEL, messages=[user("What did I ask you to remember?")])
    assert str(app.runtime.bodies[-1]["messages"]).count("Remember 7f3a.") == 1


def test_another_caller_has_its_own_session_of_the_same_id(
    harness: HarnessFactory, sessions_bucket: str
) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    context = '{"identity": {"userArn": "arn:aws:iam::123456789012:user/%s"}}'
    sdk(
        app, **{contract.SESSION_ID_HEADER: "mine", "x-amzn-request-context": context % "ada"}
    ).chat.completions.create(model=MODEL, messages=[user("My name is Ada.")])
    other = sdk(app, **{contract.SESSION_ID_HEADER: "mine", "x-amzn-request-context": context % "bob"})
    other.chat.completions.create(model=MODEL, messages=[user("What is her name?")])
    assert "My name is Ada." not in str(app.runtime.bodies[1]["messages"])


# --- errors -----------------------------------------------------------------------------------------------
VALID: dict[str, Any] = {"model": MODEL, "messages": [user("Hi")]}


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"messages": [user("Hi")]}, 400, "missing_field", "model"),
        ({**VALID, "model": "gpt-4o"}, 404, "model_not_found", "model"),
        (
            {**VALID, "tools": [{"type": "function", "function": {"name": "f"}}]},
            400,
            "tools_not_supported",
            "tools",
        ),
        ({**VALID, "tool_choice": "required"}, 400, "tools_not_supported", "tool_choice"),
        ({**VALID, "functions": [{"name": "f"}]}, 400, "tools_not_supported", "functions"),
        (
            {
                **VALID,
                "messages": [user("Hi"), {"role": "tool", "tool_call_id": "1", "content": "42"}, user("Hi")],
            },
            400,
            "tools_not_supported",
            "messages[1]",
        ),
        (
            {
                **VALID,
                "messages": [
                    user("Hi"),
                    {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
                    user("Hi"),
                ],
            },
            400,
            "tools_not_supported",
            "messages[1]",
        ),
        ({**VALID, "n": 2}, 400, "unsupported_parameter", "n"),
        ({**VALID, "messages": []}, 400, "invalid_field", "messages"),
        ({**VALID, "messages": "Hi"}, 400, "invalid_field", "messages"),
        ({**VALID, "messages": ["Hi"]}, 400, "invalid_field", "messages[0]"),
        (
            {**VALID, "messages": [{"role": "robot", "content": "Hi"}]},
            400,
            "invalid_field",
            "messages[0].role",
        ),
        (
            {**VALID, "messages": [{"role": "user", "content": "  "}]},
            400,
            "invalid_field",
            "messages[0].content",
        ),
        (
            {**VALID, "messages": [{"role": "user", "content": 7}]},
            400,
            "invalid_field",
            "messages[0].content",
        ),
        (
            {**VALID, "messages": [{"role": "user", "content": "Hi", "audio": {}}]},
            400,
            "invalid_field",
            "messages[0]",
        ),
        (
            {
                **VALID,
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            },
            400,
            "unsupported_content",
            "messages[0].content",
        ),
        (
            {**VALID, "messages": [user("Hi"), {"role": "assistant", "content": "Hello"}]},
            400,
            "invalid_field",
            "messages",
        ),
        (
            {**VALID, "messages": [{"role": "system", "content": "y" * 41}, user("x" * 60)]},
            400,
            "prompt_too_long",
            "messages",
        ),
        ({**VALID, "stream": "yes"}, 400, "invalid_field", "stream"),
        ({**VALID, "stream_options": {"include_usage": True}}, 400, "invalid_field", "stream_options"),
        (
            {**VALID, "stream": True, "stream_options": {"usage": True}},
            400,
            "invalid_field",
            "stream_options",
        ),
        ({**VALID, "max_tokens": 513}, 400, "invalid_field", "max_tokens"),
        ({**VALID, "max_completion_tokens": 0}, 400, "invalid_field", "max_completion_tokens"),
        # Both must be valid, whichever wins.
        ({**VALID, "max_tokens": 513, "max_completion_tokens": 32}, 400, "invalid_field", "max_tokens"),
        (
            {**VALID, "max_tokens": 32, "max_completion_tokens": 513},
            400,
            "invalid_field",
            "max_completion_tokens",
        ),
        ({**VALID, "temperature": 3}, 400, "invalid_field", "temperature"),
        ({**VALID, "user": 7}, 400, "invalid_field", "user"),
        ([VALID], 400, "invalid_body", None),
    ],
)
def test_bad_input_gets_an_openai_error_and_never_reaches_the_model(
    harness: HarnessFactory, body: Any, status: int, code: str, param: str | None
) -> None:
    app = harness([hello()], max_prompt_chars=100, max_tokens=512)
    response = app.client.post(COMPLETIONS, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == (code, param)
    assert error["type"] == ("invalid_request_error" if status < 500 else "server_error")
    assert error["message"]
    assert app.runtime.requests == []


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b'{"model": "agent"}', "text/plain", 415, "unsupported_media_type"),
        (b"x" * 2_000_000, "application/json", 413, "body_too_large"),
    ],
)
def test_unreadable_bodies_get_an_openai_error(
    harness: HarnessFactory, content: bytes, content_type: str, status: int, code: str
) -> None:
    app = harness([hello()])
    response = app.client.post(COMPLETIONS, content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("session_id", "code"), [("../etc", "invalid_field"), ("ok-id", "sessions_disabled")]
)
def test_a_bad_or_unusable_session_header_is_refused(
    harness: HarnessFactory, session_id: str, code: str
) -> None:
    app = harness([hello()])
    response = app.client.post(COMPLETIONS, json=VALID, headers={contract.SESSION_ID_HEADER: session_id})
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)


def test_the_sdk_raises_bad_request_for_client_tools(harness: HarnessFactory) -> None:
    app = harness([hello()])
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(app).chat.completions.create(
            model=MODEL,
            messages=[user("Hi")],
            tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        )
    assert caught.value.code == "tools_not_supported"
    assert "runs its own tools" in caught.value.message


def test_throttling_before_any_output_is_a_429_rate_limit_error(harness: HarnessFactory) -> None:
    app = harness([Throttle()])
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(app).chat.completions.create(model=MODEL, messages=[user("Hi")], stream=True)
    assert caught.value.code == "model_throttled"
    assert len(app.runtime.requests) == FAST_RETRIES.max_attempts


def test_an_endpoint_error_before_any_output_is_a_502_server_error(harness: HarnessFactory) -> None:
    app = harness([ModelError(500, '{"error": "boom"}')])
    response = app.client.post(COMPLETIONS, json=VALID)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"
    assert response.json()["error"]["code"] == "model_error"


def test_an_error_mid_stream_is_raised_by_the_sdk_after_the_text(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt")[:5])])
    texts: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sdk(app).chat.completions.create(model=MODEL, messages=[user("Hi")], stream=True):
            texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "Hello! I am"
    assert caught.value.code == "stream_truncated"
    raw = app.client.post(COMPLETIONS, json={**VALID, "stream": True}).text
    assert "[DONE]" not in raw


def test_an_error_after_tool_output_fails_a_whole_completion_with_its_status(harness: HarnessFactory) -> None:
    app = harness([Stream(calculator_call_parts()), Throttle()])
    response = app.client.post(COMPLETIONS, json={**VALID, "messages": [user("What is 6 times 7?")]})
    assert response.status_code == 429
    assert response.json()["error"] == {
        "message": "the model endpoint is throttling requests; retry later",
        "type": "rate_limit_error",
        "param": None,
        "code": "model_throttled",
    }


def test_the_chat_route_keeps_its_own_error_shape(harness: HarnessFactory) -> None:
    response = harness([hello()]).post({"prompt": ""})
    assert set(response.json()) == {"code", "message"}
