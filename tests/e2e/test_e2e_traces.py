"""Traces of the local stack: the caller's OTLP endpoint (OpenTelemetry's variables) reaches the agent API,
which then exports each turn's trace there."""

import json
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from agent_api import contract
from local.agent_environment import ENDPOINT_NAME, agent_environment
from local.emulator import Emulator, Endpoint
from local.stack import LocalDeployment
from tests.e2e.bundled_agent import start_bundled_agent
from tests.e2e.sse_chat import chat
from tests.support.otlp_collector import OtlpCollector

LOCAL = ("http://127.0.0.1:1", "http://127.0.0.1:2")


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_an_otlp_endpoint_in_the_callers_environment_turns_traces_on(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-agent")

    environment = agent_environment(*LOCAL, tools=None)

    assert environment[contract.AGENT_TRACES.variable] == contract.TRACES_OTLP
    assert environment[contract.AGENT_CAPTURE_CONTENT.variable] == "false"
    assert (environment[variable], environment["OTEL_SERVICE_NAME"]) == ("http://127.0.0.1:4318", "my-agent")


def test_without_an_otlp_endpoint_traces_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (contract.OTEL_ENDPOINT_VARIABLE, contract.OTEL_TRACES_ENDPOINT_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AGENT_TRACES", "cloudwatch")  # a caller's own AGENT_* never reaches the stack

    environment = agent_environment(*LOCAL, tools=None)

    assert contract.AGENT_TRACES.variable not in environment


def test_content_is_kept_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.OTEL_ENDPOINT_VARIABLE, "http://127.0.0.1:4318")

    environment = agent_environment(*LOCAL, tools=None, capture_content=True)

    assert environment[contract.AGENT_CAPTURE_CONTENT.variable] == "true"


@pytest.fixture(scope="module")
def traced_stack(vllm_url: str) -> Iterator[tuple[LocalDeployment, OtlpCollector]]:
    """A local stack (on the session's vLLM) whose caller's environment names a collector in this test."""
    with OtlpCollector() as collector, pytest.MonkeyPatch.context() as patch:
        patch.setenv(contract.OTEL_ENDPOINT_VARIABLE, collector.url)
        with LocalDeployment(backend_url=vllm_url) as stack:
            yield stack, collector


@pytest.mark.e2e
def test_a_tool_calling_turn_of_the_local_stack_is_one_trace_received_before_the_response_closed(
    traced_stack: tuple[LocalDeployment, OtlpCollector],
) -> None:
    stack, collector = traced_stack
    result = chat(stack.agent_url, prompt="What is the weather in Paris?")
    closed = time.monotonic()  # chat returns once the response has ended

    done = result.events[-1]
    assert (done.name, result.named("tool_use")[0].data["name"]) == ("done", "get_weather")
    spans = collector.trace(done.data["trace_id"])
    names = sorted(span.name for span in spans)
    assert names.count("POST /chat") == 1
    assert "invoke_agent Strands Agents" in names
    assert names.count("chat") == 2
    assert "execute_tool get_weather" in names
    assert all(span.arrived <= closed for span in spans)
    [agent] = [span for span in spans if span.name == "invoke_agent Strands Agents"]
    usage = done.data["usage"]
    assert (
        agent.attributes["gen_ai.usage.input_tokens"],
        agent.attributes["gen_ai.usage.output_tokens"],
    ) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert "weather in Paris" not in json.dumps([[span.attributes, span.events] for span in spans])
    assert {span.resource["service.name"] for span in spans} == {"agent-api-local"}


@pytest.mark.e2e
def test_the_lambda_bundle_exports_a_turns_trace_on_the_lambda_python(
    lambda_bundle: Callable[[str], Path],
    lambda_python: str,
    vllm_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The OTLP exporter as bundled (protobuf's compiled wheel, requests) runs on Lambda's Python."""
    if platform.machine() != "x86_64":
        pytest.skip("the x86_64 bundle's compiled modules load only on x86_64")
    bundle = lambda_bundle("x86_64")
    with ExitStack() as stack:
        collector = stack.enter_context(OtlpCollector())
        monkeypatch.setenv(contract.OTEL_ENDPOINT_VARIABLE, collector.url)
        emulator = stack.enter_context(Emulator({ENDPOINT_NAME: Endpoint(vllm_url)}))
        agent_url, _ = start_bundled_agent(stack, bundle, lambda_python, tmp_path, emulator)
        result = chat(agent_url, prompt="What is the weather in Paris?")
        spans = collector.trace(result.events[-1].data["trace_id"])
    assert {"POST /chat", "invoke_agent Strands Agents", "chat", "execute_tool get_weather"} <= {
        span.name for span in spans
    }


@pytest.mark.e2e
def test_the_callers_traceparent_makes_a_local_turn_part_of_its_trace(
    traced_stack: tuple[LocalDeployment, OtlpCollector],
) -> None:
    stack, collector = traced_stack
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with (
        httpx.Client(timeout=120) as client,
        connect_sse(
            client,
            "POST",
            f"{stack.agent_url}/chat",
            json={"prompt": "Hello"},
            headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"},
        ) as source,
    ):
        done = list(source.iter_sse())[-1]
    assert done.json()["trace_id"] == caller_trace
    [root] = [span for span in collector.trace(caller_trace) if span.name == "POST /chat"]
    assert root.parent_span_id == caller_span
