"""local/fallback.py: the local stack's fallback model, as the agent API and the emulator are given it."""

from __future__ import annotations

import pytest

from agent_api.fallback_settings import BedrockFallback, EndpointFallback
from agent_api.settings import Settings
from local import demo, stack
from local.agent_environment import agent_environment
from local.emulator import Emulator, Endpoint
from local.fallback import FALLBACK_COMPONENT, FALLBACK_ENDPOINT, FALLBACK_MODEL_ID, LocalFallback

BACKEND = "http://127.0.0.1:9"


@pytest.mark.parametrize("on_throttle", [False, True])
def test_the_agent_api_reads_a_bedrock_fallback_and_reaches_bedrock_on_the_emulator(
    on_throttle: bool,
) -> None:
    fallback = LocalFallback("bedrock", on_throttle)
    environment = agent_environment(BACKEND, "http://127.0.0.1:2", tools=None, fallback=fallback)

    settings = Settings.from_env(environment)

    assert isinstance(settings.fallback, BedrockFallback)
    assert settings.fallback.name == fallback.name == FALLBACK_MODEL_ID
    assert settings.fallback_on_throttle is on_throttle
    assert environment["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == BACKEND


def test_the_agent_api_reads_an_endpoint_fallback() -> None:
    fallback = LocalFallback("endpoint")
    environment = agent_environment(BACKEND, "http://127.0.0.1:2", tools=None, fallback=fallback)

    settings = Settings.from_env(environment)

    # The same vLLM: its answers' text may hold tool calls in the default profile's syntax.
    assert settings.fallback == EndpointFallback(
        FALLBACK_ENDPOINT, FALLBACK_COMPONENT, text_tool_calls=settings.text_tool_calls
    )
    assert settings.text_tool_calls == "llama3_json"
    assert fallback.name == f"{FALLBACK_ENDPOINT}/{FALLBACK_COMPONENT}"
    assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" not in environment


def test_the_emulator_serves_the_fallback_in_service_beside_a_model_at_zero() -> None:
    bedrock, endpoint = LocalFallback("bedrock"), LocalFallback("endpoint")
    with Emulator(
        {
            stack.ENDPOINT_NAME: Endpoint(BACKEND, inference_components=(stack.COMPONENT_NAME,)),
            **endpoint.endpoints(BACKEND),
        },
        component_copies=0,
        converse_models=bedrock.converse_models(BACKEND),
    ) as emulator:
        assert emulator.components[stack.COMPONENT_NAME].copies_in_service() == 0
        assert emulator.components[FALLBACK_COMPONENT].copies_in_service() == 1
        assert set(emulator.converse_models) == {FALLBACK_MODEL_ID}
    assert bedrock.endpoints(BACKEND) == {} and endpoint.converse_models(BACKEND) == {}


def test_an_unknown_fallback_is_refused() -> None:
    with pytest.raises(ValueError, match="one of bedrock, endpoint"):
        LocalFallback("openai")


def test_the_commands_refuse_a_fallback_they_cannot_use(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        stack.main(["--fallback-on-throttle"])
    assert "--fallback-on-throttle needs --fallback" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main(["--fallback", "bedrock"])
    assert "--fallback needs --cold" in capsys.readouterr().err
