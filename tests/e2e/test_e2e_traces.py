"""Traces of the local stack: the caller's OTLP endpoint (OpenTelemetry's variables) reaches the agent API,
which then exports each turn's trace there."""

import json
import time
from collections.abc import Iterator

import pytest

from agent_api import contract
from local.stack import LocalDeployment, agent_environment
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
