"""The function environment synthesized for every cdk.json environment is what the app's settings accept."""

from __future__ import annotations

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
    assert set(variables) == contract.AGENT_VARIABLES | contract.POWERTOOLS_VARIABLES | WEB_ADAPTER_VARIABLES
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
        tools=contract.split_tools(agent.tools),
        sessions_bucket=variables[contract.ENV_SESSIONS_BUCKET],
        max_prompt_chars=agent.max_prompt_chars,
        service_name=contract.SERVICE_NAME,
        metrics_namespace=agent.metrics_namespace,
        log_level=agent.log_level,
        stream_reasoning=agent.stream_reasoning,
        auth=config.api.auth,
        cognito=sign_in(config, variables),
        inference_component_name=config.inference_component_name,
    )


def sign_in(config: EnvironmentConfig, variables: dict[str, Any]) -> CognitoSettings | None:
    """What the chat page must be told: nothing under IAM, the stack's own Cognito login under Cognito."""
    if config.api.auth == "iam":
        return None
    return CognitoSettings(
        domain=f"https://{config.stack_name.lower()}-{PSEUDO_PARAMETERS['AWS::AccountId']}.auth."
        f"{PSEUDO_PARAMETERS['AWS::Region']}.amazoncognito.com",
        client_id=variables[contract.ENV_COGNITO_CLIENT_ID],
        scope="openid email agent-api/invoke",
    )


# Values at and around each rule's edges; synth and the function must draw the line at the same place.
EDGES = {
    "response_format": (contract.ENV_RESPONSE_FORMAT, ["auto", "openai-chat", "Open AI", "x" * 64, "x" * 65]),
    "system_prompt": (contract.ENV_SYSTEM_PROMPT, ["Be brief.", " \n"]),
    "max_tokens": (contract.ENV_MAX_TOKENS, [0, 1, 1024, 1_000_000, 1_000_001]),
    "temperature": (contract.ENV_TEMPERATURE, [-0.1, 0, 0.2, 2, 2.01]),
    "tools": (contract.ENV_TOOLS, ["", "calculator", "get_weather, current_time", "shell", "calculator,sh"]),
    "max_prompt_chars": (contract.ENV_MAX_PROMPT_CHARS, [0, 1, 10_000_000, 10_000_001]),
    "log_level": (contract.ENV_LOG_LEVEL, ["DEBUG", "ERROR", "TRACE", "info"]),
    "metrics_namespace": (
        contract.ENV_METRICS_NAMESPACE,
        ["SageMakerStrandsAgent", "Team/Agent #1", "a" * 255, "a" * 256, "AWS/Agent", ":Agent", " Agent", ""],
    ),
}


@pytest.mark.parametrize("key", sorted(EDGES))
def test_synth_accepts_exactly_what_the_function_accepts(key: str) -> None:
    variable, values = EDGES[key]
    verdicts = []
    for value in values:
        try:
            parse_environment("dev", {"model": {"hf_model_id": "org/model"}, "agent": {key: value}})
            synth = True
        except ConfigError:
            synth = False
        try:
            Settings.from_env({contract.ENV_ENDPOINT_NAME: "endpoint", variable: str(value)})
            function = True
        except SettingsError:
            function = False
        verdicts.append((value, synth, function))
    assert [verdict for verdict in verdicts if verdict[1] != verdict[2]] == []
    assert {synth for _, synth, _ in verdicts} == {True, False}


@pytest.mark.parametrize("stream_reasoning", [True, False])
def test_stream_reasoning_reaches_the_function(stream_reasoning: bool) -> None:
    config = parse_environment(
        "dev", {"model": {"hf_model_id": "org/model"}, "agent": {"stream_reasoning": stream_reasoning}}
    )
    variables = agent_environment(config.agent, "endpoint", None, "bucket", None)
    variables[contract.ENV_REGION] = "us-east-1"  # a CloudFormation token at synth
    assert Settings.from_env(variables).stream_reasoning is stream_reasoning


def test_stream_reasoning_must_be_a_boolean_at_synth() -> None:
    with pytest.raises(ConfigError, match=r"agent\.stream_reasoning"):
        parse_environment("dev", {"model": {"hf_model_id": "org/model"}, "agent": {"stream_reasoning": "no"}})
