"""The function environment synthesized for every cdk.json environment is what the app's settings accept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_api import contract
from agent_api.settings import CognitoSettings, Settings, SettingsError
from stacks.agent_api.construct import agent_environment
from stacks.config import ConfigError, EnvironmentConfig, parse_environment
from tests.infra.infra_support import (
    PSEUDO_PARAMETERS,
    Synthesized,
    agent_function,
    cdk_context,
    deployed_values,
)

pytestmark = pytest.mark.infra

ENVIRONMENTS = sorted(cdk_context()["environments"])
WEB_ADAPTER_VARIABLES = {
    "AWS_LAMBDA_EXEC_WRAPPER",
    "AWS_LWA_INVOKE_MODE",
    "AWS_LWA_PORT",
    "AWS_LWA_READINESS_CHECK_PATH",
}


def configured(environment: str) -> EnvironmentConfig:
    return parse_environment(environment, cdk_context()["environments"][environment])


def function_variables(synthesized: Synthesized, config: EnvironmentConfig) -> dict[str, Any]:
    """The agent function's environment as a deployment would set it, intrinsics resolved."""
    template = synthesized.templates[config.stack_name]
    variables = agent_function(template)["Environment"]["Variables"]
    return dict(deployed_values(variables, template, config.stack_name))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_setting_of_the_app_is_set_explicitly(synthesized: Synthesized, environment: str) -> None:
    variables = function_variables(synthesized, configured(environment))
    assert set(variables) == {setting.variable for setting in contract.SETTINGS} | WEB_ADAPTER_VARIABLES
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == contract.HEALTH_PATH


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_app_settings_carry_the_configured_values(synthesized: Synthesized, environment: str) -> None:
    config = configured(environment)
    variables = function_variables(synthesized, config)
    agent = config.agent
    assert Settings.from_env(variables) == Settings(
        endpoint_name=config.endpoint_name,
        region=PSEUDO_PARAMETERS["AWS::Region"],
        response_format=agent.response_format,
        system_prompt=agent.system_prompt,
        max_tokens=agent.max_tokens,
        temperature=agent.temperature,
        tools=contract.AGENT_TOOLS.kind.read(agent.tools),
        sessions_bucket=variables[contract.AGENT_SESSIONS_BUCKET.variable],
        max_prompt_chars=agent.max_prompt_chars,
        service_name=contract.SERVICE_NAME,
        metrics_namespace=agent.metrics_namespace,
        log_level=agent.log_level,
        stream_reasoning=agent.stream_reasoning,
        auth=config.api.auth,
        cognito=sign_in(config, variables),
        inference_component_name=config.inference_component_name,
        # Both shipped environments run the llama3 profile: Llama 3.1 JSON calls.
        text_tool_calls="llama3_json",
        traces=config.observability.traces,
        capture_content=config.observability.capture_content,
        otlp_endpoint=config.observability.otlp_endpoint,
        otlp_headers_secret=config.observability.otlp_headers_secret,
    )


def sign_in(config: EnvironmentConfig, variables: dict[str, Any]) -> CognitoSettings | None:
    """What the chat page must be told: nothing under IAM, the stack's own Cognito login under Cognito."""
    if config.api.auth == "iam":
        return None
    return CognitoSettings(
        domain=f"https://{config.stack_name.lower()}-{PSEUDO_PARAMETERS['AWS::AccountId']}.auth."
        f"{PSEUDO_PARAMETERS['AWS::Region']}.amazoncognito.com",
        client_id=variables[contract.AGENT_COGNITO_CLIENT_ID.variable],
        scope="openid email agent-api/invoke",
        issuer=f"https://cognito-idp.{PSEUDO_PARAMETERS['AWS::Region']}.{PSEUDO_PARAMETERS['AWS::URLSuffix']}/"
        f"{PSEUDO_PARAMETERS['AWS::Region']}_Example12",
    )


# Values at and around each rule's edges, for every row of the settings table with a cdk.json key; synth and
# the function must draw the line at the same place. (A value of another JSON type, such as "10" for
# max_tokens, has no counterpart in a variable, which is always text: test_infra_config covers those.)
EDGES: dict[str, list[Any]] = {
    "agent.response_format": ["auto", "openai-chat", "Open AI", "x" * 64, "x" * 65, ""],
    "agent.system_prompt": ["Be brief.", " \n", ""],
    "agent.max_tokens": [0, 1, 1024, 1_000_000, 1_000_001, 1.5],
    "agent.temperature": [-0.1, 0, 0.2, 2, 2.01, 1e-7, 10**400],
    "agent.tools": ["", "calculator", "get_weather, current_time", "shell", "calculator,sh"],
    "agent.mcp_servers": [
        [],
        [{"name": "docs", "url": "https://docs.example.com/mcp", "tools": ["find"], "timeout_seconds": 300}],
        [{"name": "docs", "url": "https://docs.example.com/mcp", "timeout_seconds": 301}],
        [{"name": "docs", "url": "http://docs.example.com/mcp"}],
        [{"name": "docs"}],
        {"name": "docs", "url": "https://docs.example.com/mcp"},
        [{"name": "v", "url": "https://v.example/mcp", "auth": {"type": "bearer", "secret": "mcp/v"}}],
        [{"name": "v", "url": "https://v.example/mcp", "auth": {"type": "sigv4"}}],
    ],
    "agent.max_prompt_chars": [0, 1, 10_000_000, 10_000_001],
    "agent.stream_reasoning": [True, False, 1, None],
    "agent.log_level": ["DEBUG", "ERROR", "TRACE", "info"],
    "agent.metrics_namespace": [
        "SageMakerStrandsAgent",
        "Team/Agent #1",
        "a" * 255,
        "a" * 256,
        "AWS/Agent",
        ":Agent",
        " Agent",
        "",
    ],
    # `otlp` needs an endpoint: alone it is refused at synth and at start alike.
    "observability.traces": ["off", "cloudwatch", "otlp", "OTLP", "xray", ""],
    "observability.capture_content": [True, False, 1, None],
    "observability.otlp_endpoint": [
        "https://cloud.langfuse.com/api/public/otel",
        "http://10.0.0.5:4318",
        "https://collector/v1/traces?x=1",
        "https://user:key@collector",
        "grpc://collector:4317",
        "https://",
    ],
    "observability.otlp_headers_secret": ["agent/langfuse-otlp", "a" * 512, "a" * 513, "no spaces"],
    # The fallback model (issue 23). A geographic profile needs the environment's Region, which neither side
    # knows here; a fallback naming the environment's own endpoint only synth can tell.
    "endpoint.fallback": [
        {"bedrock_model_id": "anthropic.claude-haiku-4-5-20251001-v1:0"},
        {"bedrock_model_id": "global.anthropic.claude-haiku-4-5-20251001-v1:0", "max_tokens": 512},
        {"bedrock_model_id": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"},
        {"bedrock_model_id": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"},
        {"endpoint_name": "small-model", "inference_component_name": "small-model-ic"},
        {"endpoint_name": "small_model"},
        {"endpoint_name": "small-model", "bedrock_model_id": "amazon.nova-micro-v1:0"},
        "amazon.nova-micro-v1:0",
        {},
    ],
    "endpoint.fallback_on_throttle": [True, False, 1, None],
}
KEYED = {setting.key: setting for setting in contract.SETTINGS if setting.key is not None}


def test_every_cdk_json_setting_has_its_edges() -> None:
    assert set(EDGES) == set(KEYED)


def as_written(value: Any) -> str:
    """The variable's text a person would write for a cdk.json value."""
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("key", sorted(EDGES))
def test_synth_accepts_exactly_what_the_function_accepts(key: str) -> None:
    setting = KEYED[key]
    section, name = key.split(".", 1)
    verdicts = []
    for value in EDGES[key]:
        try:
            parse_environment("dev", {"model": {"hf_model_id": "org/model"}, section: {name: value}})
            synth = True
        except ConfigError:
            synth = False
        try:
            read = Settings.from_env(
                {contract.AGENT_ENDPOINT_NAME.variable: "e", setting.variable: as_written(value)}
            )
            function = True
        except SettingsError:
            function = False
        verdicts.append((value, synth, function))
        if synth:
            # What the stack writes for an accepted value reads back as the value the person meant.
            written = setting.kind.encode(value)
            assert setting.kind.read(written) == getattr(read, setting.name), (value, written)
    assert [verdict for verdict in verdicts if verdict[1] != verdict[2]] == []
    assert {synth for _, synth, _ in verdicts} == {True, False}


@pytest.mark.parametrize("stream_reasoning", [True, False])
def test_stream_reasoning_reaches_the_function(stream_reasoning: bool) -> None:
    config = parse_environment(
        "dev", {"model": {"hf_model_id": "org/model"}, "agent": {"stream_reasoning": stream_reasoning}}
    )
    variables = agent_environment(config.agent, "endpoint", None, "false", "bucket", None)
    variables[contract.AGENT_REGION.variable] = "us-east-1"  # a CloudFormation token at synth
    assert Settings.from_env(variables).stream_reasoning is stream_reasoning


def test_stream_reasoning_must_be_a_boolean_at_synth() -> None:
    with pytest.raises(ConfigError, match=r"agent\.stream_reasoning"):
        parse_environment("dev", {"model": {"hf_model_id": "org/model"}, "agent": {"stream_reasoning": "no"}})
