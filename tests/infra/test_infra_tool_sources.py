"""The stack's side of the agent's tools: synth's checks of `agent.tools` and `agent.mcp_servers`, exactly the
permissions the servers' auth names (pinned to botocore's models of AgentCore), and the dashboard's graphs."""

from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path
from typing import Any

import botocore
import pytest

from stacks.agent_api.lambda_contract import contract, mcp_servers
from stacks.config import ConfigError, parse_environment
from tests.infra.infra_support import PSEUDO_PARAMETERS, cdk_context, deployed_values, resources, synthesize
from tests.infra.test_infra_nag import findings
from tests.infra.test_infra_templates import as_list, policy_statements

pytestmark = pytest.mark.infra

GATEWAY_ID = "tools-gateway-a1b2c3d4e5"
GATEWAY_URL = f"https://{GATEWAY_ID}.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
SERVERS = [
    {"name": "docs", "url": "https://docs.example.com/mcp", "tools": ["search"]},
    {
        "name": "vendor",
        "url": "https://mcp.vendor.example/v1",
        "auth": {"type": "bearer", "secret": "mcp/vendor"},
    },
    {
        "name": "gateway",
        "url": GATEWAY_URL,
        "prefix": "gw",
        "auth": {
            "type": "oauth",
            "token_url": "https://tools.auth.eu-west-1.amazoncognito.com/oauth2/token",
            "client_id": "abc123",
            "secret": "mcp/gateway-client",
            "scopes": ["tools/invoke"],
            "kms_key_arn": KEY_ARN,
        },
    },
    {"name": "iam-gateway", "url": GATEWAY_URL, "prefix": "iam", "auth": {"type": "sigv4"}},
]
TOOLS_ENV = {
    **cdk_context()["environments"]["dev"],
    "agent": {"mcp_servers": SERVERS, "tools": "convert_units"},
}
STACK = "SageMakerAgent-tools"
DEV = "cdk.json environment 'dev':"


@pytest.fixture(scope="module")
def tools_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    synthesized = synthesize(
        tmp_path_factory.mktemp("tools.out"), env="tools", environments={"tools": TOOLS_ENV}
    )
    stack = synthesized.app.node.find_child(STACK)
    assert findings(stack) == []
    return synthesized.templates[STACK]


def deployed(template: dict[str, Any], value: Any) -> Any:
    return deployed_values(value, template, STACK)


def statements_for(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The agent function's statements allowing ``action`` (``secretsmanager:`` for any of the service's)."""
    return [
        statement
        for statement in policy_statements(template, "AgentApiFunctionServiceRole")
        if any(name.startswith(action) for name in as_list(statement["Action"]))
    ]


def via_secrets_manager(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The function's decrypt grants through Secrets Manager (its own key's grants for S3 are others)."""
    return [s for s in statements_for(template, "kms:Decrypt") if "kms:ViaService" in json.dumps(s)]


def test_the_function_may_read_exactly_the_named_secrets(tools_template: dict[str, Any]) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
    assert deployed(tools_template, statements_for(tools_template, "secretsmanager:")) == [
        {
            "Action": "secretsmanager:GetSecretValue",
            "Effect": "Allow",
            # Secrets Manager's six random characters, as CDK's Secret.fromSecretNameV2 grants them.
            "Resource": [f"{arn}:mcp/gateway-client-??????", f"{arn}:mcp/vendor-??????"],
        }
    ]


def test_the_function_may_decrypt_with_a_named_key_through_secrets_manager_only(
    tools_template: dict[str, Any],
) -> None:
    assert deployed(tools_template, via_secrets_manager(tools_template)) == [
        {
            "Action": "kms:Decrypt",
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": KEY_ARN,
        }
    ]


def _botocore_model(service: str) -> dict[str, Any]:
    root = Path(botocore.__file__).parent / "data" / service
    (model,) = sorted(root.glob("*/service-2.json.gz"))[-1:]
    return dict(json.loads(gzip.decompress(model.read_bytes())))


def test_the_function_may_invoke_exactly_the_gateway_it_signs_for(tools_template: dict[str, Any]) -> None:
    (statement,) = deployed(tools_template, statements_for(tools_template, "bedrock-agentcore:"))
    arn = f"arn:aws:bedrock-agentcore:eu-west-1:{PSEUDO_PARAMETERS['AWS::AccountId']}:gateway/{GATEWAY_ID}"
    assert statement == {"Action": "bedrock-agentcore:InvokeGateway", "Effect": "Allow", "Resource": arn}
    # The ARN and the gateway id as AgentCore's control plane spells them, and the name SigV4 signs for.
    control = _botocore_model("bedrock-agentcore-control")["shapes"]
    assert re.fullmatch(control["GatewayArn"]["pattern"], arn)
    assert re.fullmatch(control["GatewayId"]["pattern"], GATEWAY_ID)
    assert (
        _botocore_model("bedrock-agentcore")["metadata"]["signingName"] == mcp_servers.AGENTCORE_SIGNING_NAME
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_without_servers_the_function_gets_none_of_these_permissions(template: Any, environment: str) -> None:
    found = template(environment)
    assert statements_for(found, "secretsmanager:") == statements_for(found, "bedrock-agentcore:") == []
    assert via_secrets_manager(found) == []


def test_the_dashboard_graphs_each_servers_calls_and_latency(tools_template: dict[str, Any]) -> None:
    (dashboard,) = resources(tools_template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for name in ("docs", "vendor", "gateway", "iam-gateway"):
        assert f"Tool source {name}: calls" in body
        assert f"Tool source {name}: latency (ms)" in body
    for metric in (
        contract.TOOL_SOURCE_CALLS_METRIC,
        contract.TOOL_SOURCE_ERRORS_METRIC,
        contract.TOOL_SOURCE_TIMEOUTS_METRIC,
        contract.TOOL_SOURCE_UNAVAILABLE_METRIC,
        contract.TOOL_SOURCE_LATENCY_METRIC,
    ):
        assert metric in body


def test_the_function_is_told_its_servers(tools_template: dict[str, Any]) -> None:
    (function,) = [
        f
        for f in resources(tools_template, "AWS::Lambda::Function").values()
        if "AGENT_MCP_SERVERS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    text = function["Properties"]["Environment"]["Variables"]["AGENT_MCP_SERVERS"]
    assert json.loads(text) == SERVERS


def environment(**agent: Any) -> dict[str, Any]:
    raw = copy.deepcopy(cdk_context()["environments"]["dev"])
    raw["agent"] = {**raw.get("agent", {}), **agent}
    return raw


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        (
            {"mcp_servers": [{"name": "local", "url": "http://127.0.0.1:8765/mcp"}]},
            f"{DEV} agent.mcp_servers[0].url: got 'http://127.0.0.1:8765/mcp': a loopback URL, which only "
            "the local stack reaches; a deployed agent needs https",
        ),
        (
            {
                "mcp_servers": [
                    {
                        "name": "x",
                        "url": "https://x.example/mcp",
                        "auth": {
                            "type": "oauth",
                            "token_url": "http://localhost:9/t",
                            "client_id": "c",
                            "secret": "s",
                        },
                    }
                ]
            },
            f"{DEV} agent.mcp_servers[0].auth.token_url: got 'http://localhost:9/t': a loopback",
        ),
        (
            {"mcp_servers": [{"name": "docs", "url": "https://docs.example.com/mcp", "tools": []}]},
            f"{DEV} agent.mcp_servers[0].tools: got []; expected a non-empty list",
        ),
        (
            {"mcp_servers": [{"name": "a", "url": "https://a.example/mcp", "auth": {"type": "sigv4"}}]},
            f"{DEV} agent.mcp_servers[0].auth: sigv4 signs for Amazon Bedrock AgentCore Gateway",
        ),
        (
            {"tools": "calculator,lookup_order"},
            f"{DEV} agent.tools: got 'calculator,lookup_order'; allowed: comma-separated names of "
            "current_time, calculator, get_weather, convert_units, or '' for none",
        ),
        (
            {"system_prompt": "x" * 3500},
            f"{DEV} agent: the function's environment would take about",
        ),
    ],
)
def test_synth_names_the_environment_the_key_and_the_problem(agent: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment("dev", environment(**agent))
    assert str(raised.value).startswith(message)


def test_a_tool_file_synth_cannot_read_fails_synth_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = contract.tool_catalog.ToolCatalog(
        {}, ("team_tools/orders.py:4: @tool(name=...) must be a string literal",)
    )
    monkeypatch.setattr(contract, "TOOL_CATALOG", broken)
    with pytest.raises(
        ConfigError, match=r"^cdk.json environment 'dev': agent.tools: team_tools/orders.py:4: "
    ):
        parse_environment("dev", environment())


def test_a_call_may_not_outlast_the_function() -> None:
    slow = [{"name": "slow", "url": "https://slow.example/mcp", "timeout_seconds": 120}]
    raw = {
        "model": {"hf_model_id": "org/model"},
        "lambda": {"timeout_seconds": 120},
        "agent": {"mcp_servers": slow},
    }
    with pytest.raises(ConfigError) as raised:
        parse_environment("dev", raw)
    assert str(raised.value) == (
        f"{DEV} agent.mcp_servers[0].timeout_seconds: got 120; allowed: less than lambda.timeout_seconds "
        "(120), which ends the whole turn"
    )
    slow[0]["timeout_seconds"] = 119
    assert parse_environment("dev", raw).agent.mcp_servers == slow
