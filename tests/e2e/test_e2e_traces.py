"""Traces of the local stack: the caller's OTLP endpoint (OpenTelemetry's variables) reaches the agent API,
which then exports each turn's trace there."""

import pytest

from agent_api import contract
from local.stack import agent_environment

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
