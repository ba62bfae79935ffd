"""Each turn is one trace, exported to an OTLP/HTTP collector on 127.0.0.1 before its response has ended:
the request's span, Strands' spans beneath it, the provider's attributes, no content unless kept, the caller's
``traceparent`` honoured, and a collector that is down never failing a turn."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from opentelemetry.sdk.trace import ReadableSpan

from agent_api import contract
from agent_api.contract import DEFAULT_SYSTEM_PROMPT
from agent_api.tracing import MAX_SPANS_PER_REQUEST, TurnSpans
from sagemaker_provider import span_attributes
from tests.agent_api.harness import Harness, HarnessFactory, json_lines
from tests.agent_api.test_agent_api_warming import ColdFactory, cold  # noqa: F401 (the fixture)
from tests.support.otlp_collector import (
    OtlpCollector,
    ReceivedSpan,
    closed_endpoint,
    decode,
    silent_endpoint,
)
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import ENDPOINT, Step, Stream, Throttle

PROMPT = "What is 6 times 7? secret-prompt-5c1e"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SERVER_KIND = 2  # OTLP's SPAN_KIND_SERVER


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as running:
        yield running


def tool_turn() -> list[Step]:
    return [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]


def traced(harness: HarnessFactory, endpoint: str, steps: list[Step], **overrides: Any) -> Harness:
    return harness(
        steps,
        traces=contract.TRACES_OTLP,
        otlp_endpoint=endpoint,
        tools=("calculator",),
        **overrides,
    )


def chat(app: Harness, body: dict[str, Any], **headers: str) -> tuple[list[Any], float, str]:
    """POST /chat; return its events, when its response had closed (monotonic), and its x-request-id."""
    with connect_sse(app.client, "POST", "/chat", json=body, headers=headers) as source:
        source.response.raise_for_status()
        events = list(source.iter_sse())
        request_id = source.response.headers["x-request-id"]
    return events, time.monotonic(), request_id


def by_name(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    named: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    ids = {s.span_id: s for s in spans}
    names = []
    parent = span.parent_span_id
    while parent in ids:
        names.append(ids[parent].name)
        parent = ids[parent].parent_span_id
    return names


def test_a_tool_calling_turn_is_one_trace_received_before_its_response_closed(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    events, closed, request_id = chat(app, {"prompt": PROMPT})
    done = events[-1].json()
    spans = collector.spans
    assert spans, "nothing was exported"
    assert {span.trace_id for span in spans} == {done["trace_id"]}
    assert max(span.arrived for span in spans) < closed
    named = by_name(spans)
    [root] = named["POST /chat"]
    [agent] = named["invoke_agent Strands Agents"]
    assert len(named["chat"]) == 2
    [tool] = named["execute_tool calculator"]
    assert root.parent_span_id is None and root.kind == SERVER_KIND
    assert root.attributes == {
        "http.request.method": "POST",
        "http.route": contract.CHAT_PATH,
        "http.response.status_code": 200,
        "agent_api.request_id": request_id,
        "agent_api.session.present": False,
    }
    assert agent.parent_span_id == root.span_id
    for span in [*named["chat"], tool]:
        assert ancestors(span, spans)[-2:] == ["invoke_agent Strands Agents", "POST /chat"]
    assert tool.attributes["gen_ai.tool.status"] == "success"


def test_the_turns_usage_in_the_trace_is_the_done_events(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    events, _, _ = chat(app, {"prompt": PROMPT})
    usage = events[-1].json()["usage"]
    [agent] = by_name(collector.spans)["invoke_agent Strands Agents"]
    assert (
        agent.attributes["gen_ai.usage.input_tokens"],
        agent.attributes["gen_ai.usage.output_tokens"],
    ) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )


def test_each_model_call_carries_the_providers_attributes(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    chat(app, {"prompt": PROMPT})
    for span in by_name(collector.spans)["chat"]:
        assert span.attributes[span_attributes.ENDPOINT] == ENDPOINT
        assert span.attributes[span_attributes.RESPONSE_FORMAT] == "openai-chat"
        assert span.attributes[span_attributes.TEXT_TOOL_CALLS] == 0
        assert span.attributes[span_attributes.REQUEST_ID]


def test_the_callers_traceparent_makes_the_turn_part_of_its_trace(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    events, _, _ = chat(app, {"prompt": PROMPT}, traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    assert events[-1].json()["trace_id"] == CALLER_TRACE
    [root] = by_name(collector.spans)["POST /chat"]
    assert (root.trace_id, root.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)


def test_a_malformed_traceparent_starts_a_trace_of_its_own(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    events, _, _ = chat(app, {"prompt": PROMPT}, traceparent="00-not-a-trace-01")
    [root] = by_name(collector.spans)["POST /chat"]
    assert root.parent_span_id is None and root.trace_id == events[-1].json()["trace_id"]


def exported_text(spans: list[ReceivedSpan]) -> str:
    return json.dumps([[span.attributes, span.events] for span in spans])


def test_prompts_answers_and_tool_content_stay_out_of_the_trace(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    events, _, _ = chat(app, {"prompt": PROMPT})
    exported = exported_text(collector.spans)
    answer = "".join(event.json()["delta"] for event in events if event.event == "text")
    assert answer and answer not in exported
    for content in ("secret-prompt-5c1e", DEFAULT_SYSTEM_PROMPT[:40], "6 * 7", '"42"'):
        assert content not in exported, content


def test_content_is_kept_when_the_environment_opts_in(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn(), capture_content=True)
    chat(app, {"prompt": PROMPT})
    exported = exported_text(collector.spans)
    assert "secret-prompt-5c1e" in exported and "6 * 7" in exported


@pytest.mark.parametrize("dead", ["refused", "silent"])
def test_a_dead_collector_never_fails_the_turn(harness: HarnessFactory, logs: io.StringIO, dead: str) -> None:
    with silent_endpoint() as silent:
        app = traced(harness, closed_endpoint() if dead == "refused" else silent, tool_turn())
        events, _, _ = chat(app, {"prompt": PROMPT})
    assert [event.event for event in events][-1] == "done"
    assert events[-1].json()["trace_id"]
    warnings = [line["message"] for line in json_lines(logs.getvalue()) if line.get("level") == "WARNING"]
    assert any("trace was not exported" in message for message in warnings), warnings


def test_an_error_answer_is_traced_with_its_status_and_code(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, [Throttle()])
    response = app.post({"prompt": PROMPT})
    [root] = by_name(collector.wait_for_spans(1))["POST /chat"]
    assert root.attributes["http.response.status_code"] == response.status_code
    assert root.attributes["error.type"] == response.json()["code"]


def test_concurrent_turns_each_export_only_their_own_spans(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, [Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    trace_ids: list[str] = []

    def one() -> None:
        with (
            httpx.Client(base_url=str(app.client.base_url), timeout=30) as client,
            connect_sse(client, "POST", "/chat", json={"prompt": "Hi"}) as source,
        ):
            trace_ids.append(list(source.iter_sse())[-1].json()["trace_id"])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(set(trace_ids)) == 4
    for request in collector.requests:
        assert len({span.trace_id for span in decode(request)}) == 1  # one export per turn
    for trace_id in trace_ids:
        assert len(by_name(collector.trace(trace_id))["POST /chat"]) == 1


def test_openai_answers_carry_the_trace_id(harness: HarnessFactory, collector: OtlpCollector) -> None:
    app = traced(harness, collector.url, [Stream(fixture_parts("vllm/chat_stream_usage.txt"))])
    request = {"model": "agent", "messages": [{"role": "user", "content": "Hi"}]}
    whole = app.client.post(contract.OPENAI_CHAT_COMPLETIONS_PATH, json=request).json()
    with connect_sse(
        app.client, "POST", contract.OPENAI_CHAT_COMPLETIONS_PATH, json={**request, "stream": True}
    ) as source:
        chunks = [json.loads(event.data) for event in source.iter_sse() if event.data != "[DONE]"]
    finishing = [chunk for chunk in chunks if chunk["choices"] and chunk["choices"][0]["finish_reason"]]
    traces = {
        span.trace_id
        for span in collector.spans
        if span.name == f"POST {contract.OPENAI_CHAT_COMPLETIONS_PATH}"
    }
    assert {whole["trace_id"], finishing[-1]["trace_id"]} == traces


XRAY_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
XRAY_PARENT = "53995c3f42cd8ad8"
XRAY_HEADER = f"Root={XRAY_ROOT};Parent={XRAY_PARENT};Sampled=1"


def test_traces_to_cloudwatch_are_signed_and_join_the_functions_xray_trace(
    harness: HarnessFactory, collector: OtlpCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", collector.url)
    app = harness(tool_turn(), traces=contract.TRACES_CLOUDWATCH, tools=("calculator",))
    events, _, _ = chat(app, {"prompt": PROMPT}, **{"x-amzn-trace-id": XRAY_HEADER})
    [root] = by_name(collector.spans)["POST /chat"]
    assert root.trace_id == events[-1].json()["trace_id"] == "5759e988bd862e3fe1be46a994272793"
    assert root.parent_span_id == XRAY_PARENT
    authorization = {k.lower(): v for k, v in collector.requests[0].headers.items()}["authorization"]
    assert (
        authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
        and "/xray/aws4_request" in authorization
    )


def test_a_callers_traceparent_wins_over_the_xray_header(
    harness: HarnessFactory, collector: OtlpCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", collector.url)
    app = harness(tool_turn(), traces=contract.TRACES_CLOUDWATCH, tools=("calculator",))
    headers = {"x-amzn-trace-id": XRAY_HEADER, "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    events, _, _ = chat(app, {"prompt": PROMPT}, **headers)
    assert events[-1].json()["trace_id"] == CALLER_TRACE


def test_an_otlp_endpoint_leaves_the_xray_header_alone(
    harness: HarnessFactory, collector: OtlpCollector
) -> None:
    app = traced(harness, collector.url, tool_turn())
    chat(app, {"prompt": PROMPT}, **{"x-amzn-trace-id": XRAY_HEADER})
    [root] = by_name(collector.spans)["POST /chat"]
    assert root.parent_span_id is None and root.trace_id != "5759e988bd862e3fe1be46a994272793"


def test_otel_sdk_disabled_turns_traces_off(
    harness: HarnessFactory, collector: OtlpCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    app = traced(harness, collector.url, tool_turn())
    events, _, _ = chat(app, {"prompt": PROMPT})
    assert events[-1].json()["trace_id"] is None
    assert collector.requests == []


def test_a_request_keeps_at_most_its_limit_of_spans_and_none_after_it_ended() -> None:
    spans = TurnSpans()
    for index in range(MAX_SPANS_PER_REQUEST + 3):
        spans.add(ReadableSpan(f"span {index}"))
    kept = spans.take()
    spans.add(ReadableSpan("late"))
    assert (len(kept), spans.dropped, spans.take()) == (MAX_SPANS_PER_REQUEST, 3, [])


def test_the_wait_for_a_copy_of_a_model_scaled_to_zero_is_on_the_requests_span(
    cold: ColdFactory,  # noqa: F811 (the imported fixture)
    collector: OtlpCollector,
) -> None:
    app = cold(warm_up_seconds=0.3, traces=contract.TRACES_OTLP, otlp_endpoint=collector.url)
    events = app.chat({"prompt": "Hi"})
    [root] = by_name(collector.spans)["POST /chat"]
    assert events[-1].event == "done"
    assert 0.3 <= root.attributes["agent_api.model_wait_seconds"] < 5


def test_only_the_requests_for_a_turn_are_traced(harness: HarnessFactory, collector: OtlpCollector) -> None:
    app = traced(harness, collector.url, tool_turn())
    assert app.client.get(contract.CHAT_PATH).status_code == 405
    assert app.client.get(contract.HEALTH_PATH).status_code == 200
    assert app.client.get(contract.OPENAI_MODELS_PATH).status_code == 200
    # A traced request is exported before its response ends: nothing exported by now means nothing traced.
    assert collector.requests == []
