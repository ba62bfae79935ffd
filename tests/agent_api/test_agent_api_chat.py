"""`POST /chat` against the real provider reading recorded streams from a fake SageMaker runtime, served by a
real uvicorn server and read with an SSE client library."""

from __future__ import annotations

import asyncio

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse, connect_sse

from local.tiny_model.script import PLAIN_TEXT as HELLO
from local.tiny_model.script import TOOL_RESULT_TEXT
from tests.agent_api.harness import FAST_RETRIES, HarnessFactory
from tests.support.recordings import calculator_call_parts, fixture_parts, sse_parts
from tests.support.sagemaker_runtime import ENDPOINT, ModelError, Stream, Throttle


def text_of(events: list[ServerSentEvent]) -> str:
    return "".join(event.json()["delta"] for event in events if event.event == "text")


def names_of(events: list[ServerSentEvent]) -> list[str]:
    return [event.event for event in events]


def test_text_is_streamed_as_text_events(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    events = app.chat({"prompt": "Hi"})
    assert text_of(events) == HELLO
    assert len([e for e in events if e.event == "text"]) > 1


def test_stream_ends_with_done_carrying_stop_reason_and_usage(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    events = app.chat({"prompt": "Hi"})
    assert events[-1].event == "done"
    assert events[-1].json() == {
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 96, "output_tokens": 10},
        "session_id": None,
        "trace_id": None,  # traces off
        # The model that answered: the endpoint's own (issue 23).
        "model": ENDPOINT,
    }


def test_response_is_an_uncached_event_stream(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    response = app.post({"prompt": "Hi"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"


def test_first_text_event_arrives_before_the_model_finishes(harness: HarnessFactory) -> None:
    # The endpoint sends the role chunk and "Hello", then holds the rest until the client has seen text.
    held = Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=2)
    app = harness([held])
    with connect_sse(app.client, "POST", "/chat", json={"prompt": "Hi"}) as source:
        events = source.iter_sse()
        first = next(events)
        model_finished_before_first_text = held.finished.is_set()
        held.resume.set()
        rest = list(events)
    assert first.event == "text"
    assert first.json() == {"delta": "Hello"}
    assert not model_finished_before_first_text
    assert rest[-1].event == "done"


def test_a_tool_call_streams_tool_use_then_tool_result(harness: HarnessFactory) -> None:
    app = harness(
        [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]
    )
    events = app.chat({"prompt": "What is 6 times 7?"})
    assert names_of(events)[:2] == ["tool_use", "tool_result"]
    tool_use, tool_result = events[0].json(), events[1].json()
    assert (tool_use["name"], tool_use["input"]) == ("calculator", {"expression": "6 * 7"})
    assert tool_result == {"id": tool_use["id"], "name": "calculator", "status": "success", "content": "42"}
    assert text_of(events) == TOOL_RESULT_TEXT
    assert events[-1].json()["stop_reason"] == "end_turn"


def test_the_tool_result_is_sent_back_to_the_model(harness: HarnessFactory) -> None:
    app = harness(
        [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]
    )
    app.chat({"prompt": "What is 6 times 7?"})
    assert len(app.runtime.requests) == 2
    assert "42" in str(app.runtime.bodies[1])


def test_a_failing_tool_reports_an_error_result(harness: HarnessFactory) -> None:
    bad_call = [part.replace(b"6 * 7", b"1 / 0") for part in calculator_call_parts()]
    app = harness([Stream(bad_call), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))])
    events = app.chat({"prompt": "What is 1/0?"})
    result = next(e.json() for e in events if e.event == "tool_result")
    assert result["status"] == "error"
    assert "division by zero" in result["content"]


def test_request_limits_reach_the_model(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    app.chat({"prompt": "Hi", "max_tokens": 64, "temperature": 0.5})
    sent = app.runtime.bodies[0]
    assert (sent["max_tokens"], sent["temperature"]) == (64, 0.5)


def test_server_defaults_apply_when_the_request_sets_no_limits(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))], max_tokens=300, temperature=0.9)
    app.chat({"prompt": "Hi"})
    sent = app.runtime.bodies[0]
    assert (sent["max_tokens"], sent["temperature"]) == (300, 0.9)


def test_disabled_tools_are_not_offered_to_the_model(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))], tools=())
    app.chat({"prompt": "Hi"})
    assert not app.runtime.bodies[0].get("tools")


def test_error_mid_stream_becomes_an_error_event_after_the_text(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("sglang/e_error_midstream.body"))])
    events = app.chat({"prompt": "Capital of France?"})
    assert text_of(events) == "Paris is the"
    assert events[-1].event == "error"
    error = events[-1].json()
    assert error["code"] == "model_error"
    assert "Out of memory" in error["message"]
    assert "done" not in names_of(events)


def test_truncated_stream_becomes_a_stream_truncated_event(harness: HarnessFactory) -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    app = harness([Stream(parts[:5])])
    events = app.chat({"prompt": "Hi"})
    assert text_of(events) == "Hello! I am"
    assert events[-1].event == "error"
    assert events[-1].json()["code"] == "stream_truncated"


def test_throttling_before_any_output_is_a_429(harness: HarnessFactory) -> None:
    app = harness([Throttle()])
    response = app.post({"prompt": "Hi"})
    assert response.status_code == 429
    assert response.json()["code"] == "model_throttled"


def test_throttled_calls_are_retried_up_to_the_policy_and_no_more(harness: HarnessFactory) -> None:
    app = harness([Throttle()])
    app.post({"prompt": "Hi"})
    assert len(app.runtime.requests) == FAST_RETRIES.max_attempts


def test_a_throttle_that_clears_within_the_retries_is_invisible(harness: HarnessFactory) -> None:
    app = harness([Throttle(), Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    assert text_of(app.chat({"prompt": "Hi"})) == HELLO


def test_throttling_after_output_started_is_an_error_event(harness: HarnessFactory) -> None:
    app = harness([Stream(calculator_call_parts()), Throttle()])
    events = app.chat({"prompt": "What is 6 times 7?"})
    assert names_of(events) == ["tool_use", "tool_result", "error"]
    assert events[-1].json()["code"] == "model_throttled"


def test_context_overflow_before_any_output_is_a_400(harness: HarnessFactory) -> None:
    body = (
        '{"object":"error","message":"The input (131073 tokens) is longer than the model\'s context length '
        '(131072 tokens).","type":"BadRequestError","param":null,"code":400}'
    )
    app = harness([ModelError(400, body)])
    response = app.post({"prompt": "a very long prompt"})
    assert response.status_code == 400
    assert response.json()["code"] == "context_overflow"


def test_endpoint_error_before_any_output_is_a_502(harness: HarnessFactory) -> None:
    app = harness([ModelError(500, '{"error": "boom"}')])
    response = app.post({"prompt": "Hi"})
    assert response.status_code == 502
    assert response.json()["code"] == "model_error"


def test_event_payloads_are_single_line_json_even_with_newlines(harness: HarnessFactory) -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"line one\\n\\nline two"},'
        b'"finish_reason":null}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    app = harness([Stream(sse_parts(body))])
    assert text_of(app.chat({"prompt": "Hi"})) == "line one\n\nline two"


def test_running_out_of_tokens_ends_with_done_max_tokens(harness: HarnessFactory) -> None:
    app = harness([Stream(fixture_parts("vllm/chat_stop_length.txt"))])
    events = app.chat({"prompt": "Say hello.", "max_tokens": 3})
    assert text_of(events) == "Hello! I"
    assert events[-1].event == "done"
    assert events[-1].json()["stop_reason"] == "max_tokens"


def test_concurrent_streams_each_get_the_whole_answer(harness: HarnessFactory) -> None:
    # More streams than the provider keeps idle reader threads, so readers are both reused and started.
    app = harness([Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    base_url = str(app.client.base_url)

    async def one(client: httpx.AsyncClient) -> str:
        async with aconnect_sse(client, "POST", "/chat", json={"prompt": "Hi"}) as source:
            return text_of([event async for event in source.aiter_sse()])

    async def all_streams(count: int) -> list[str]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(count)))

    assert asyncio.run(all_streams(40)) == [HELLO] * 40
