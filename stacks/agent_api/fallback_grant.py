"""The agent function's permission to invoke its fallback model (``endpoint.fallback``), and nothing else.

A Bedrock fallback is called with ConverseStream, which needs ``bedrock:InvokeModelWithResponseStream``, and
Converse ``bedrock:InvokeModel`` (Bedrock API reference, "ConverseStream" and "Converse": "This operation
requires permission for the ... action"); both are granted on exactly the configured model:

- a foundation model id: that model in the function's Region,
  ``arn:<partition>:bedrock:<region>::foundation-model/<id>``;
- a geographic cross-Region inference profile (``us.``, ``eu.``, ...): the profile in the function's Region,
  ``arn:<partition>:bedrock:<region>:<account>:inference-profile/<id>``, and its foundation model in every
  Region the profile routes to, only through that profile (condition ``bedrock:InferenceProfileArn``). AWS's
  policy lists the destination Regions one by one (Bedrock user guide, "Geographic cross-Region inference",
  IAM policy requirements); they differ per model and change over time and no API lists them at synth, so
  the Region is a wildcard, as the CDK's own grant for a profile does
  (``BedrockFoundationModel.grantInvokeAllRegions``, @aws-cdk/aws-bedrock-alpha);
- a global profile (``global.``): AWS's three statements (Bedrock user guide, "Global cross-Region
  inference", IAM policy requirements): the profile in the function's Region, the foundation model in the
  function's Region, and the Region-less global foundation model ARN
  ``arn:<partition>:bedrock:::foundation-model/<id>``, for which Bedrock sets ``aws:RequestedRegion`` to
  ``unspecified``; the last two only through the profile.

A SageMaker fallback may be invoked (buffered or streaming) on its endpoint and, when it names one, its
inference component, as the own endpoint is (stacks/inference/construct.py, ``grant_invoke``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from stacks import nag
from stacks.agent_api.lambda_contract import contract, fallback_settings

BEDROCK_INVOKE_ACTIONS: Final = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
SAGEMAKER_INVOKE_ACTIONS: Final = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
PROFILE_CONDITION_KEY: Final = "bedrock:InferenceProfileArn"
REQUESTED_REGION_KEY: Final = "aws:RequestedRegion"
# What Bedrock sets `aws:RequestedRegion` to when it authorizes the global foundation model ARN.
GLOBAL_REQUESTED_REGION: Final = "unspecified"
_ANY_REGION_REASON: Final = (
    "The fallback's cross-Region inference profile routes to its one foundation model in Regions AWS chooses "
    "per model and changes over time; the statement allows only that model, and only through that profile "
    "(bedrock:InferenceProfileArn)."
)


def grant_fallback(function: lambda_.Function, fallback: Mapping[str, Any] | None) -> None:
    """Allow ``function`` to invoke exactly the fallback of ``endpoint.fallback`` (nothing when None)."""
    if fallback is None:
        return
    read = contract.AGENT_FALLBACK.kind.read(contract.AGENT_FALLBACK.kind.encode(fallback))
    stack = Stack.of(function)
    if isinstance(read, fallback_settings.BedrockFallback):
        statements = bedrock_statements(read.model, stack)
    else:
        statements = [endpoint_statement(read, stack)]
    for statement in statements:
        function.add_to_role_policy(statement)
    if isinstance(read, fallback_settings.BedrockFallback) and read.model.geography not in (
        None,
        fallback_settings.GLOBAL,
    ):
        any_region = (
            f"arn:{nag.partition(function)}:bedrock:*::foundation-model/{read.model.foundation_model}"
        )
        nag.acknowledge(function, nag.wildcard_resources([any_region], _ANY_REGION_REASON))


def bedrock_statements(model: fallback_settings.BedrockModelId, stack: Stack) -> list[iam.PolicyStatement]:
    """Return the statements that let the function invoke ``model``, and only it (module docstring)."""
    actions = list(BEDROCK_INVOKE_ACTIONS)
    foundation = model.foundation_model
    in_region = f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{foundation}"
    if model.geography is None:
        return [iam.PolicyStatement(sid="FallbackFoundationModel", actions=actions, resources=[in_region])]
    profile = (
        f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:inference-profile/{model.model_id}"
    )
    through_profile = {PROFILE_CONDITION_KEY: profile}
    if model.geography != fallback_settings.GLOBAL:
        return [
            iam.PolicyStatement(sid="FallbackInferenceProfile", actions=actions, resources=[profile]),
            iam.PolicyStatement(
                sid="FallbackProfileModel",
                actions=actions,
                resources=[f"arn:{stack.partition}:bedrock:*::foundation-model/{foundation}"],
                conditions={"StringEquals": through_profile},
            ),
        ]
    in_this_region = {REQUESTED_REGION_KEY: stack.region}
    return [
        iam.PolicyStatement(
            sid="FallbackGlobalProfile",
            actions=actions,
            resources=[profile],
            conditions={"StringEquals": in_this_region},
        ),
        iam.PolicyStatement(
            sid="FallbackGlobalProfileRegionModel",
            actions=actions,
            resources=[in_region],
            conditions={"StringEquals": {**in_this_region, **through_profile}},
        ),
        iam.PolicyStatement(
            sid="FallbackGlobalProfileGlobalModel",
            actions=actions,
            resources=[f"arn:{stack.partition}:bedrock:::foundation-model/{foundation}"],
            conditions={"StringEquals": {REQUESTED_REGION_KEY: GLOBAL_REQUESTED_REGION, **through_profile}},
        ),
    ]


def endpoint_statement(fallback: fallback_settings.EndpointFallback, stack: Stack) -> iam.PolicyStatement:
    """Return the statement that lets the function invoke the fallback endpoint (and component), only it.

    SageMaker writes names lower-case inside endpoint ARNs; the component's ARN is listed as named and
    lower-case, which grants nothing beyond this one component either way.
    """
    prefix = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
    resources = [f"{prefix}:endpoint/{fallback.endpoint_name.lower()}"]
    component = fallback.inference_component_name
    if component is not None:
        resources.extend(
            f"{prefix}:inference-component/{name}" for name in dict.fromkeys([component, component.lower()])
        )
    return iam.PolicyStatement(
        sid="FallbackEndpoint", actions=list(SAGEMAKER_INVOKE_ACTIONS), resources=resources
    )
