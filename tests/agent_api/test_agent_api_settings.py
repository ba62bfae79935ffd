from __future__ import annotations

import dataclasses

import pytest

from agent_api import contract
from agent_api.agent_factory import model_config
from agent_api.settings import Settings, SettingsError

BASE = {"AGENT_ENDPOINT_NAME": "my-endpoint"}


def load(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def error_for(**env: str) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, **env})
    return str(info.value)


def test_unset_variables_take_the_contract_defaults() -> None:
    settings = Settings.from_env({**BASE, "AWS_REGION": "eu-west-1"})
    assert settings == Settings(
        endpoint_name="my-endpoint",
        region="eu-west-1",
        response_format=contract.AGENT_RESPONSE_FORMAT.default,
        system_prompt=contract.DEFAULT_SYSTEM_PROMPT,
        max_tokens=contract.AGENT_MAX_TOKENS.default,
        temperature=contract.AGENT_TEMPERATURE.default,
        tools=("current_time", "calculator"),
        sessions_bucket=None,
        max_prompt_chars=contract.AGENT_MAX_PROMPT_CHARS.default,
        service_name=contract.SERVICE_NAME,
        metrics_namespace=contract.METRICS_NAMESPACE,
        log_level=contract.POWERTOOLS_LOG_LEVEL.default,
    )


def test_every_variable_is_read() -> None:
    settings = load(
        AGENT_REGION="us-west-2",
        AGENT_RESPONSE_FORMAT="tgi",
        AGENT_SYSTEM_PROMPT="Be brief.",
        AGENT_MAX_TOKENS="256",
        AGENT_TEMPERATURE="0.7",
        AGENT_TOOLS="calculator",
        AGENT_SESSIONS_BUCKET="my-sessions",
        AGENT_MAX_PROMPT_CHARS="500",
        POWERTOOLS_SERVICE_NAME="svc",
        POWERTOOLS_METRICS_NAMESPACE="Team/Agent",
        POWERTOOLS_LOG_LEVEL="DEBUG",
    )
    assert (settings.region, settings.response_format, settings.system_prompt) == (
        "us-west-2",
        "tgi",
        "Be brief.",
    )
    assert (settings.max_tokens, settings.temperature, settings.tools) == (256, 0.7, ("calculator",))
    assert (settings.sessions_bucket, settings.max_prompt_chars) == ("my-sessions", 500)
    assert (settings.service_name, settings.metrics_namespace, settings.log_level) == (
        "svc",
        "Team/Agent",
        "DEBUG",
    )
    assert settings.sessions_enabled


def test_agent_region_overrides_aws_region() -> None:
    assert load(AGENT_REGION="ap-south-1", AWS_REGION="us-east-1").region == "ap-south-1"


def test_empty_tools_means_no_tools() -> None:
    assert load(AGENT_TOOLS="").tools == ()


def test_demo_weather_tool_is_opt_in() -> None:
    assert "get_weather" not in load().tools
    assert load(AGENT_TOOLS="current_time,get_weather").tools == ("current_time", "get_weather")


def test_empty_sessions_bucket_disables_sessions() -> None:
    assert not load(AGENT_SESSIONS_BUCKET="").sessions_enabled


def test_missing_endpoint_name_is_named() -> None:
    with pytest.raises(SettingsError, match="AGENT_ENDPOINT_NAME: required"):
        Settings.from_env({})


def test_unknown_agent_variable_is_named() -> None:
    assert "AGENT_MAX_TOKEN: unknown variable" in error_for(AGENT_MAX_TOKEN="10")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AGENT_ENDPOINT_NAME", "bad name!", "is not a SageMaker endpoint name"),
        ("AGENT_REGION", "moon-1", "is not an AWS region name"),
        ("AGENT_INFERENCE_COMPONENT_NAME", "model_1", "is not an inference component name"),
        ("AGENT_INFERENCE_COMPONENT_NAME", "m" * 64, "is not an inference component name"),
        ("AGENT_RESPONSE_FORMAT", "Open AI", "is not a response format name"),
        ("AGENT_SYSTEM_PROMPT", "  ", "must not be blank"),
        ("AGENT_MAX_TOKENS", "lots", "is not an integer"),
        ("AGENT_MAX_TOKENS", "0", "is outside 1..1000000"),
        ("AGENT_TEMPERATURE", "warm", "is not a number"),
        ("AGENT_TEMPERATURE", "2.5", "is outside 0..2"),
        ("AGENT_TEMPERATURE", "nan", "is outside 0..2"),
        ("AGENT_TOOLS", "calculator,shell", "unknown tool(s) 'shell'"),
        ("AGENT_SESSIONS_BUCKET", "Not_A_Bucket", "is not a valid S3 bucket name"),
        ("AGENT_MAX_PROMPT_CHARS", "-5", "is outside 1..10000000"),
        ("POWERTOOLS_SERVICE_NAME", " ", "is not a service name"),
        ("POWERTOOLS_METRICS_NAMESPACE", "AWS/Agent", "is not a CloudWatch namespace"),
        ("POWERTOOLS_METRICS_NAMESPACE", "Agent\n", "is not a CloudWatch namespace"),
        ("POWERTOOLS_LOG_LEVEL", "VERBOSE", "is not one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_invalid_value_is_named(name: str, value: str, expected: str) -> None:
    message = error_for(**{name: value})
    assert f"{name}: " in message
    assert expected in message


def test_all_problems_are_reported_together() -> None:
    message = error_for(
        AGENT_MAX_TOKENS="x", AGENT_TEMPERATURE="y", AGENT_OOPS="1", POWERTOOLS_METRICS_NAMESPACE=":"
    )
    assert "AGENT_MAX_TOKENS" in message
    assert "AGENT_TEMPERATURE" in message
    assert "AGENT_OOPS" in message
    assert "POWERTOOLS_METRICS_NAMESPACE" in message


def test_reasoning_events_are_on_unless_turned_off() -> None:
    assert load().stream_reasoning is True
    assert load(AGENT_STREAM_REASONING="false").stream_reasoning is False
    assert load(AGENT_STREAM_REASONING="true").stream_reasoning is True


def test_stream_reasoning_must_be_true_or_false() -> None:
    assert "AGENT_STREAM_REASONING: 'no' is not one of true, false" in error_for(AGENT_STREAM_REASONING="no")


COGNITO = {
    contract.AGENT_AUTH.variable: contract.AUTH_COGNITO,
    contract.AGENT_COGNITO_DOMAIN.variable: "https://sagemakeragent-prod-123456789012.auth.us-east-1.amazoncognito.com",
    contract.AGENT_COGNITO_CLIENT_ID.variable: "4example5clientid6abcdefghi",
    contract.AGENT_COGNITO_SCOPE.variable: "openid email agent-api/invoke",
    contract.AGENT_COGNITO_ISSUER.variable: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example12",
}


def test_cognito_sign_in_is_read_under_cognito_auth() -> None:
    from agent_api.settings import CognitoSettings

    settings = load(**COGNITO)
    assert settings.auth == contract.AUTH_COGNITO
    assert settings.cognito == CognitoSettings(
        domain=COGNITO[contract.AGENT_COGNITO_DOMAIN.variable],
        client_id=COGNITO[contract.AGENT_COGNITO_CLIENT_ID.variable],
        scope=COGNITO[contract.AGENT_COGNITO_SCOPE.variable],
        issuer=COGNITO[contract.AGENT_COGNITO_ISSUER.variable],
    )


def test_auth_defaults_to_none_the_local_stacks_mode() -> None:
    assert (load().auth, load().cognito) == (contract.AUTH_NONE, None)


@pytest.mark.parametrize("auth", [contract.AUTH_NONE, contract.AUTH_IAM])
def test_empty_cognito_variables_mean_no_sign_in(auth: str) -> None:
    settings = load(**{**dict.fromkeys(COGNITO, ""), contract.AGENT_AUTH.variable: auth})
    assert (settings.auth, settings.cognito) == (auth, None)


def test_auth_must_be_one_of_the_modes() -> None:
    assert "AGENT_AUTH: 'jwt' is not one of none, iam, cognito" in error_for(AGENT_AUTH="jwt")


def test_cognito_auth_names_the_missing_sign_in_variables() -> None:
    message = error_for(
        **{
            contract.AGENT_AUTH.variable: contract.AUTH_COGNITO,
            contract.AGENT_COGNITO_DOMAIN.variable: COGNITO[contract.AGENT_COGNITO_DOMAIN.variable],
        }
    )
    assert (
        "AGENT_COGNITO_CLIENT_ID, AGENT_COGNITO_SCOPE, AGENT_COGNITO_ISSUER: required with AGENT_AUTH=cognito"
        in message
    )


@pytest.mark.parametrize("auth", [contract.AUTH_NONE, contract.AUTH_IAM])
def test_cognito_variables_outside_cognito_auth_are_refused(auth: str) -> None:
    message = error_for(**{**COGNITO, contract.AGENT_AUTH.variable: auth})
    assert f"{', '.join(contract.COGNITO_VARIABLES)}: only with AGENT_AUTH=cognito" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (contract.AGENT_COGNITO_DOMAIN.variable, "http://login.example.com"),
        (contract.AGENT_COGNITO_DOMAIN.variable, "https://login.example.com/oauth2"),
        (contract.AGENT_COGNITO_CLIENT_ID.variable, "not/a-client"),
        (contract.AGENT_COGNITO_SCOPE.variable, "openid  agent-api/invoke"),
        (contract.AGENT_COGNITO_ISSUER.variable, "https://login.example.com/us-east-1_Example12"),
        (contract.AGENT_COGNITO_ISSUER.variable, "https://cognito-idp.us-east-1.amazonaws.com/pool"),
    ],
)
def test_an_invalid_cognito_variable_is_named(variable: str, value: str) -> None:
    assert f"{variable}: {value!r} is not" in error_for(**{**COGNITO, variable: value})


def test_inference_component_is_read_and_empty_means_the_endpoints_own_model() -> None:
    assert load(AGENT_INFERENCE_COMPONENT_NAME="dev-g6-12xlarge-model").inference_component_name == (
        "dev-g6-12xlarge-model"
    )
    assert load(AGENT_INFERENCE_COMPONENT_NAME="").inference_component_name is None
    assert load().inference_component_name is None


def test_the_provider_invokes_the_configured_component_and_only_then() -> None:
    with_component = load(AGENT_INFERENCE_COMPONENT_NAME="dev-model")
    assert model_config(with_component, 64, 0.1)["inference_component_name"] == "dev-model"
    assert "inference_component_name" not in model_config(load(), 64, 0.1)


def test_settings_has_a_field_per_row_of_the_table_and_one_for_the_sign_in() -> None:
    rows = {setting.name for setting in contract.SETTINGS}
    sign_in = {setting.name for setting in contract.COGNITO_SETTINGS}
    assert {field.name for field in dataclasses.fields(Settings)} == rows - sign_in | {"cognito"}


def test_every_row_is_read_from_its_variable() -> None:
    # One value per row, unlike its default, proves each variable reaches its field.
    given = {
        contract.AGENT_ENDPOINT_NAME: "other-endpoint",
        contract.AGENT_INFERENCE_COMPONENT_NAME: "other-model",
        contract.AGENT_REGION: "eu-west-3",
        contract.AGENT_RESPONSE_FORMAT: "tgi",
        contract.AGENT_TEXT_TOOL_CALLS: "mistral",
        contract.AGENT_SYSTEM_PROMPT: "Be terse.",
        contract.AGENT_MAX_TOKENS: "99",
        contract.AGENT_TEMPERATURE: "1.5",
        contract.AGENT_TOOLS: "get_weather",
        contract.AGENT_MCP_SERVERS: '[{"name": "docs", "url": "https://docs.example.com/mcp"}]',
        contract.AGENT_SESSIONS_BUCKET: "other-bucket",
        contract.AGENT_MAX_PROMPT_CHARS: "77",
        contract.AGENT_STREAM_REASONING: "false",
        contract.POWERTOOLS_SERVICE_NAME: "other-service",
        contract.POWERTOOLS_METRICS_NAMESPACE: "Other",
        contract.POWERTOOLS_LOG_LEVEL: "ERROR",
        contract.AGENT_TRACES: "cloudwatch",
        contract.AGENT_CAPTURE_CONTENT: "true",
        contract.AGENT_OTLP_ENDPOINT: "https://collector.example.com",
        contract.AGENT_OTLP_HEADERS_SECRET: "team/otlp-headers",
        # The fallback model (issue 23).
        contract.AGENT_FALLBACK: '{"endpoint_name": "small-model"}',
        contract.AGENT_FALLBACK_ON_THROTTLE: "true",
    }
    # AGENT_AUTH and the sign-in it governs have tests of their own above.
    assert set(given) | {contract.AGENT_AUTH, *contract.COGNITO_SETTINGS} == set(contract.SETTINGS)
    settings = Settings.from_env({setting.variable: text for setting, text in given.items()})
    for setting, text in given.items():
        value = getattr(settings, setting.name)
        assert value == setting.kind.read(text) != setting.start_value, setting.variable
