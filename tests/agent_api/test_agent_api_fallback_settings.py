"""`AGENT_FALLBACK` / `endpoint.fallback`: its shape, the Bedrock model ids it takes, the Region they need."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from agent_api import contract
from agent_api.fallback_settings import (
    BedrockFallback,
    BedrockModelId,
    EndpointFallback,
    bedrock_model_id,
    region_problem,
)
from agent_api.setting_kinds import InvalidValue
from agent_api.settings import Settings, SettingsError

KIND = contract.AGENT_FALLBACK.kind
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
FOUNDATION_IDS = [
    HAIKU,
    "amazon.nova-micro-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "anthropic.claude-sonnet-4-6",
    "mistral.mistral-7b-instruct-v0:2",
]
PROFILE_IDS = [f"{geography}.{HAIKU}" for geography in ("us", "us-gov", "eu", "apac", "jp", "au", "global")]
NOT_SUPPORTED = [
    f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
    f"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/{HAIKU}",
    f"ca.{HAIKU}",
    "anthropic",
    "Anthropic.Claude",
    "",
    "anthropic.claude-3-haiku-20240307-v1:0:200k",
]


def converse_model_id_pattern() -> re.Pattern[str]:
    """The modelId pattern of botocore's bedrock-runtime ConverseStream (ConversationalModelId)."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model("ConverseStream").input_shape.members["modelId"]
    return re.compile(shape.metadata["pattern"])


@pytest.mark.parametrize("model_id", FOUNDATION_IDS + PROFILE_IDS)
def test_every_id_accepted_is_one_converse_stream_accepts(model_id: str) -> None:
    assert converse_model_id_pattern().fullmatch(model_id)
    assert KIND.check({"bedrock_model_id": model_id}) == []


@pytest.mark.parametrize("model_id", FOUNDATION_IDS)
def test_a_foundation_model_id_names_that_model(model_id: str) -> None:
    assert bedrock_model_id(model_id) == BedrockModelId(model_id, model_id, None)


@pytest.mark.parametrize("model_id", PROFILE_IDS)
def test_a_profile_id_names_its_geography_and_foundation_model(model_id: str) -> None:
    parsed = bedrock_model_id(model_id)
    assert parsed is not None and parsed.is_profile
    assert parsed.foundation_model == HAIKU
    assert f"{parsed.geography}.{HAIKU}" == model_id


@pytest.mark.parametrize("model_id", NOT_SUPPORTED)
def test_ids_that_name_no_model_the_stack_can_grant_are_refused_with_the_forms_it_takes(
    model_id: str,
) -> None:
    (problem,) = KIND.check({"bedrock_model_id": model_id})
    assert problem.path == ".bedrock_model_id"
    expected = "not an ARN" if model_id.startswith("arn:") else "expected a Bedrock foundation model id"
    assert expected in problem.text


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ("us.x", "", "expected an object"),
        ({}, "", "exactly one of"),
        ({"bedrock_model_id": HAIKU, "endpoint_name": "e"}, "", "exactly one of"),
        ({"bedrock_model_id": HAIKU, "response_format": "auto"}, ".response_format", "unknown key"),
        ({"bedrock_model_id": 7}, ".bedrock_model_id", "expected a string"),
        ({"bedrock_model_id": HAIKU, "max_tokens": 0}, ".max_tokens", "1..1000000"),
        ({"endpoint_name": "small_llm"}, ".endpoint_name", "a SageMaker endpoint name"),
        ({"endpoint_name": "e", "inference_component_name": "-ic"}, ".inference_component_name", "component"),
        ({"endpoint_name": "e", "response_format": "Open AI"}, ".response_format", "response format"),
        ({"endpoint_name": "e", "model": "x"}, ".model", "unknown key"),
        ({"endpoint_name": "e", "text_tool_calls": "xml"}, ".text_tool_calls", "llama3_json"),
        ({"bedrock_model_id": HAIKU, "text_tool_calls": "hermes"}, ".text_tool_calls", "unknown key"),
    ],
)
def test_each_problem_names_its_place(value: Any, path: str, words: str) -> None:
    problems = KIND.check(value)
    assert [problem.path for problem in problems] == [path]
    assert words in problems[0].text
    with pytest.raises(InvalidValue):
        KIND.read(json.dumps(value))


@pytest.mark.parametrize(
    ("value", "fallback", "name"),
    [
        (
            {"bedrock_model_id": f"us.{HAIKU}"},
            BedrockFallback(BedrockModelId(f"us.{HAIKU}", HAIKU, "us")),
            None,
        ),
        (
            {"bedrock_model_id": HAIKU, "max_tokens": 512},
            BedrockFallback(BedrockModelId(HAIKU, HAIKU), 512),
            None,
        ),
        ({"endpoint_name": "small"}, EndpointFallback("small"), "small"),
        (
            {"endpoint_name": "small", "inference_component_name": "ic", "response_format": "tgi"},
            EndpointFallback("small", "ic", "tgi"),
            "small/ic",
        ),
        (
            {"endpoint_name": "small", "text_tool_calls": "hermes", "max_tokens": 9},
            EndpointFallback("small", text_tool_calls="hermes", max_tokens=9),
            "small",
        ),
    ],
)
def test_the_variable_reads_back_as_the_fallback_it_describes(
    value: Any, fallback: Any, name: str | None
) -> None:
    assert KIND.read(KIND.encode(value)) == fallback
    assert fallback.name == (name or value["bedrock_model_id"])


@pytest.mark.parametrize(
    ("geography", "fits", "does_not_fit"),
    [
        ("us", ["us-east-1", "us-west-2"], ["eu-west-1", "us-gov-west-1"]),
        ("us-gov", ["us-gov-west-1"], ["us-east-1"]),
        ("eu", ["eu-central-1", "eu-north-1"], ["us-east-1", "me-central-1"]),
        ("apac", ["ap-southeast-1", "me-central-1"], ["eu-west-1"]),
        ("jp", ["ap-northeast-1", "ap-northeast-3"], ["ap-northeast-2"]),
        ("au", ["ap-southeast-2", "ap-southeast-4"], ["ap-southeast-1"]),
        ("global", ["us-east-1", "ap-south-1"], ["us-gov-west-1", "cn-north-1"]),
    ],
)
def test_a_profile_is_called_only_from_its_geography(
    geography: str, fits: list[str], does_not_fit: list[str]
) -> None:
    model = BedrockModelId(f"{geography}.{HAIKU}", HAIKU, geography)
    assert [region for region in fits if region_problem(model, region)] == []
    for region in does_not_fit:
        assert f"not {region}" in str(region_problem(model, region)) or "not available" in str(
            region_problem(model, region)
        )


def test_a_geographic_profile_needs_a_known_region_but_a_model_id_does_not() -> None:
    assert "region must be set" in str(region_problem(BedrockModelId(f"eu.{HAIKU}", HAIKU, "eu"), None))
    assert region_problem(BedrockModelId(f"global.{HAIKU}", HAIKU, "global"), None) is None
    assert region_problem(BedrockModelId(HAIKU, HAIKU), None) is None


def _settings(**variables: str) -> Settings:
    return Settings.from_env({"AGENT_ENDPOINT_NAME": "own", **variables})


def test_the_app_reads_the_fallback_and_refuses_a_profile_its_region_cannot_call() -> None:
    value = json.dumps({"bedrock_model_id": f"eu.{HAIKU}"})
    settings = _settings(AGENT_FALLBACK=value, AGENT_REGION="eu-west-1")
    assert settings.fallback == BedrockFallback(BedrockModelId(f"eu.{HAIKU}", HAIKU, "eu"))
    assert settings.fallback_on_throttle is False
    with pytest.raises(SettingsError, match=r"AGENT_FALLBACK: the inference profile .* not us-east-1"):
        _settings(AGENT_FALLBACK=value, AGENT_REGION="us-east-1")
    # The Lambda runtime's own AWS_REGION counts when AGENT_REGION is unset.
    with pytest.raises(SettingsError, match=r"not us-west-2"):
        _settings(AGENT_FALLBACK=value, AWS_REGION="us-west-2")


def test_fallback_on_throttle_needs_a_fallback() -> None:
    with pytest.raises(SettingsError, match="AGENT_FALLBACK_ON_THROTTLE: only with AGENT_FALLBACK"):
        _settings(AGENT_FALLBACK_ON_THROTTLE="true")
    fallback = json.dumps({"endpoint_name": "small"})
    assert _settings(AGENT_FALLBACK=fallback, AGENT_FALLBACK_ON_THROTTLE="true").fallback_on_throttle
    assert _settings(AGENT_FALLBACK="").fallback is None


def test_an_unreadable_fallback_is_reported_by_its_variable() -> None:
    with pytest.raises(SettingsError, match=r"AGENT_FALLBACK: is not JSON"):
        _settings(AGENT_FALLBACK="{bedrock")
    with pytest.raises(SettingsError, match=r"AGENT_FALLBACK\.endpoint_name: got 'a b'"):
        _settings(AGENT_FALLBACK='{"endpoint_name": "a b"}')
