"""What the stack does for traces: the function's grants and environment per `observability.traces`, and the
dashboard's per-turn widgets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_api import contract
from agent_api.settings import Settings
from stacks.agent_api.construct import XRAY_SPAN_ACTIONS
from tests.infra.infra_support import (
    Synthesized,
    agent_function,
    deployed_values,
    only,
    synthesize,
)
from tests.infra.test_infra_nag import findings
from tests.infra.test_infra_templates import as_list, policy_statements

pytestmark = pytest.mark.infra

MODEL = {"model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct"}}
OTLP = {
    "traces": "otlp",
    "otlp_endpoint": "https://cloud.langfuse.com/api/public/otel",
    "otlp_headers_secret": "team/langfuse-otlp",
    "capture_content": True,
}


def synthesized_with(tmp_path: Path, name: str, observability: dict[str, Any]) -> Synthesized:
    return synthesize(
        tmp_path, env=name, nag=True, environments={name: {**MODEL, "observability": observability}}
    )


@pytest.fixture(scope="module")
def cloudwatch(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesized_with(tmp_path_factory.mktemp("cloudwatch.out"), "cw", {"traces": "cloudwatch"})


@pytest.fixture(scope="module")
def otlp(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesized_with(tmp_path_factory.mktemp("otlp.out"), "otlp", OTLP)


def template_of(synthesized: Synthesized) -> dict[str, Any]:
    [template] = synthesized.templates.values()
    return template


def function_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_statements(template, "AgentApiFunctionServiceRole")


def settings_of(template: dict[str, Any], stack_name: str) -> Settings:
    variables = agent_function(template)["Environment"]["Variables"]
    return Settings.from_env(dict(deployed_values(variables, template, stack_name)))


def test_traces_to_cloudwatch_may_write_spans_to_xray_and_read_no_secret(cloudwatch: Synthesized) -> None:
    template = template_of(cloudwatch)
    statements = function_statements(template)
    spans = [s for s in statements if "xray:PutSpans" in as_list(s["Action"])]
    assert len(spans) == 1
    assert set(as_list(spans[0]["Action"])) >= set(XRAY_SPAN_ACTIONS)
    assert spans[0]["Resource"] == "*"
    assert not [s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert settings_of(template, "SageMakerAgent-cw").traces == contract.TRACES_CLOUDWATCH


def test_traces_to_an_otlp_endpoint_may_read_exactly_the_headers_secret(otlp: Synthesized) -> None:
    template = template_of(otlp)
    statements = function_statements(template)
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert len(reads) == 1
    resource = json.dumps(reads[0]["Resource"])
    # The name and the six characters Secrets Manager appends to it, in this stack's region and account.
    assert "secret:team/langfuse-otlp-??????" in resource
    assert not [s for s in statements if "xray:PutSpans" in as_list(s["Action"])]
    settings = settings_of(template, "SageMakerAgent-otlp")
    assert (
        settings.traces,
        settings.otlp_endpoint,
        settings.otlp_headers_secret,
        settings.capture_content,
    ) == (
        contract.TRACES_OTLP,
        OTLP["otlp_endpoint"],
        OTLP["otlp_headers_secret"],
        True,
    )


def test_traces_off_grant_nothing_more(template: Any) -> None:
    statements = function_statements(template("dev"))
    assert not [s for s in statements if "xray:PutSpans" in as_list(s["Action"])]
    assert not [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]


@pytest.mark.parametrize("environment", ["cloudwatch", "otlp"])
def test_trace_grants_raise_no_unacknowledged_finding(
    environment: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(environment)
    assert findings(synthesized.app) == []


def test_the_dashboard_charts_tokens_and_tool_calls_per_turn_and_cancelled_turns(template: Any) -> None:
    body = json.dumps(only(template("dev"), "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for name in (
        contract.INPUT_TOKENS_METRIC,
        contract.OUTPUT_TOKENS_METRIC,
        contract.TOOL_CALLS_METRIC,
        contract.CANCELLED_METRIC,
    ):
        assert (
            f'\\"{contract.METRICS_NAMESPACE}\\",\\"{name}\\",\\"service\\",\\"{contract.SERVICE_NAME}\\"'
            in (body)
        ), name
    assert "Tokens per turn" in body and "Tool calls per turn" in body
