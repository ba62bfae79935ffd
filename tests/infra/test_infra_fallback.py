"""The fallback model (issue 23): what synth accepts, what reaches the function, exactly what it may call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_api.settings import Settings
from stacks.config import ConfigError, parse_environment
from tests.infra.infra_support import PSEUDO_PARAMETERS, agent_function, deployed_values, synthesize
from tests.infra.test_infra_templates import policy_statements

pytestmark = pytest.mark.infra

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
INVOKE_BEDROCK = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
ACCOUNT = {"Ref": "AWS::AccountId"}
PARTITION = {"Ref": "AWS::Partition"}
REGION = {"Ref": "AWS::Region"}
MODEL = {"hf_model_id": "org/model"}
SCALE_TO_ZERO = {"mode": "inference-component"}


def _environment(fallback: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"model": MODEL, "endpoint": {**SCALE_TO_ZERO, "fallback": fallback}, **more}


ENVIRONMENTS = {
    "foundation": _environment({"bedrock_model_id": HAIKU}),
    "geographic": _environment({"bedrock_model_id": f"eu.{HAIKU}"}, region="eu-west-1"),
    "global": _environment({"bedrock_model_id": f"global.{HAIKU}", "max_tokens": 2048}),
    "endpoint": {
        "model": MODEL,
        "endpoint": {
            "fallback": {"endpoint_name": "Small-LLM", "inference_component_name": "Small-IC"},
            "fallback_on_throttle": True,
        },
    },
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    synthesized = synthesize(tmp_path_factory.mktemp("fallback.out"), environments=ENVIRONMENTS)
    return {name: synthesized.templates[f"SageMakerAgent-{name}"] for name in ENVIRONMENTS}


def fallback_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The agent function's statements that grant its fallback, without their Sid."""
    statements = policy_statements(template, "AgentApiFunctionServiceRole")
    return [
        {key: value for key, value in statement.items() if key != "Sid"}
        for statement in statements
        if statement.get("Sid", "").startswith("Fallback")
    ]


def join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


def test_a_foundation_model_is_granted_in_the_functions_region_only(templates: dict[str, Any]) -> None:
    model = join("arn:", PARTITION, ":bedrock:", REGION, f"::foundation-model/{HAIKU}")
    assert fallback_statements(templates["foundation"]) == [
        {"Action": INVOKE_BEDROCK, "Effect": "Allow", "Resource": model}
    ]


def test_a_geographic_profile_is_granted_with_its_model_only_through_it(templates: dict[str, Any]) -> None:
    # AWS's policy (Bedrock user guide, "Geographic cross-Region inference"): the profile in the source
    # Region, and the foundation model in the Regions it routes to, only through the profile.
    profile = join("arn:aws:bedrock:eu-west-1:", ACCOUNT, f":inference-profile/eu.{HAIKU}")
    assert fallback_statements(templates["geographic"]) == [
        {"Action": INVOKE_BEDROCK, "Effect": "Allow", "Resource": profile},
        {
            "Action": INVOKE_BEDROCK,
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            "Effect": "Allow",
            "Resource": f"arn:aws:bedrock:*::foundation-model/{HAIKU}",
        },
    ]


def test_a_global_profile_is_granted_as_aws_documents_it(templates: dict[str, Any]) -> None:
    # AWS's three statements (Bedrock user guide, "Global cross-Region inference", IAM policy requirements).
    profile = join("arn:", PARTITION, ":bedrock:", REGION, ":", ACCOUNT, f":inference-profile/global.{HAIKU}")
    assert fallback_statements(templates["global"]) == [
        {
            "Action": INVOKE_BEDROCK,
            "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}},
            "Effect": "Allow",
            "Resource": profile,
        },
        {
            "Action": INVOKE_BEDROCK,
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": REGION, "bedrock:InferenceProfileArn": profile}
            },
            "Effect": "Allow",
            "Resource": join("arn:", PARTITION, ":bedrock:", REGION, f"::foundation-model/{HAIKU}"),
        },
        {
            "Action": INVOKE_BEDROCK,
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile}
            },
            "Effect": "Allow",
            "Resource": join("arn:", PARTITION, f":bedrock:::foundation-model/{HAIKU}"),
        },
    ]


def test_a_fallback_endpoint_is_granted_with_its_component(templates: dict[str, Any]) -> None:
    prefix = ("arn:", PARTITION, ":sagemaker:", REGION, ":", ACCOUNT)
    assert fallback_statements(templates["endpoint"]) == [
        {
            "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            "Effect": "Allow",
            "Resource": [
                join(*prefix, ":endpoint/small-llm"),
                join(*prefix, ":inference-component/Small-IC"),
                join(*prefix, ":inference-component/small-ic"),
            ],
        }
    ]


def test_an_environment_naming_its_region_passes_cdk_nag_with_its_profile_grant(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A geographic profile needs the Region at synth, and nag then quotes ARNs with the Region (and
    # partition) written out: every acknowledgment must be spelled that way too, or synth fails.
    environment = {**ENVIRONMENTS["geographic"], "account": "123456789012"}
    synthesized = synthesize(
        tmp_path_factory.mktemp("nag.out"),
        env="geographic",
        nag=True,
        environments={"geographic": environment},
    )
    assert fallback_statements(synthesized.templates["SageMakerAgent-geographic"])


def test_nothing_else_of_bedrock_is_granted(templates: dict[str, Any]) -> None:
    for name, template in templates.items():
        statements = policy_statements(template, "AgentApiFunctionServiceRole")
        bedrock = [s for s in statements if "bedrock:" in json.dumps(s["Action"])]
        assert all(s.get("Sid", "").startswith("Fallback") for s in bedrock), name
    assert fallback_statements(templates["endpoint"])[0]["Action"][0].startswith("sagemaker:")


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_the_function_reads_the_fallback_synth_accepted(templates: dict[str, Any], name: str) -> None:
    template = templates[name]
    variables = deployed_values(
        agent_function(template)["Environment"]["Variables"], template, f"SageMakerAgent-{name}"
    )
    region = ENVIRONMENTS[name].get("region", PSEUDO_PARAMETERS["AWS::Region"])
    settings = Settings.from_env({**variables, "AGENT_REGION": region})
    configured = parse_environment(name, ENVIRONMENTS[name]).endpoint
    assert settings.fallback is not None
    assert settings.fallback.max_tokens == configured.fallback.get("max_tokens")  # type: ignore[union-attr]
    assert settings.fallback_on_throttle is configured.fallback_on_throttle


@pytest.mark.parametrize(
    ("environment", "key", "words"),
    [
        ({"endpoint": {"fallback_on_throttle": True}}, "endpoint.fallback_on_throttle", "only with endpoint"),
        (
            {"endpoint": {"fallback": {"bedrock_model_id": f"eu.{HAIKU}"}}},
            "endpoint.fallback",
            "region must be set",
        ),
        (
            {"region": "us-east-1", "endpoint": {"fallback": {"bedrock_model_id": f"eu.{HAIKU}"}}},
            "endpoint.fallback",
            r"only from eu-\*, not us-east-1",
        ),
        (
            {"endpoint": {"fallback": {"endpoint_name": "SageMakerAgent-dev-g6-12xlarge"}}},
            "endpoint.fallback",
            "own endpoint",
        ),
        (
            {"endpoint": {"fallback": {"bedrock_model_id": HAIKU_ARN}}},
            "endpoint.fallback.bedrock_model_id",
            "not an ARN",
        ),
    ],
)
def test_synth_refuses_a_fallback_that_cannot_work(environment: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as raised:
        parse_environment("dev", {"model": MODEL, **environment})
    assert raised.value.key == key
