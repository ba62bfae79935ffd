"""Inference-component mode (issue 12): dev's scale-to-zero component, and a component that keeps copies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from stacks.config import EndpointSettings, ModelSettings
from stacks.inference.construct import InferenceEndpoint
from stacks.inference.hosting import ComponentSpec
from tests.infra.infra_support import agent_function, only, resources, synthesize
from tests.infra.test_infra_templates import as_list, policy_statements

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]
COMPONENT = "SageMakerAgent-dev-g6-12xlarge-ic"
# A production-like component: keeps copies (retain_data forbids zero), two GPUs per copy, two per instance.
KEPT_ENV = {
    "retain_data": True,
    "model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct", "tp_degree": 2},
    "endpoint": {"mode": "inference-component", "min_copies": 1, "max_copies": 4},
}


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    synthesized = synthesize(tmp_path_factory.mktemp("kept.out"), env="kept", environments={"kept": KEPT_ENV})
    return synthesized.templates["SageMakerAgent-kept"]


def _component(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "AWS::SageMaker::InferenceComponent")


def _by_type(template: dict[str, Any], policy_type: str) -> list[dict[str, Any]]:
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    return [p["Properties"] for p in policies if p["Properties"]["PolicyType"] == policy_type]


def _alarm_with_action(template: dict[str, Any], policy_name: str) -> dict[str, Any]:
    (policy_id,) = [
        key for key in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy") if policy_name in key
    ]
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmActions") == [{"Ref": policy_id}]
    ]
    return alarm


def _policy(template: dict[str, Any], name: str) -> dict[str, Any]:
    (policy,) = [
        p["Properties"]
        for key, p in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if name in key
    ]
    return policy


# --- Endpoint and component ---------------------------------------------------------------------------------


def test_dev_endpoint_config_has_a_modelless_variant_managed_down_to_zero_instances(template: Lookup) -> None:
    config = only(template("dev"), "AWS::SageMaker::EndpointConfig")
    (role_id,) = [
        key
        for key in resources(template("dev"), "AWS::IAM::Role")
        if key.startswith("InferenceExecutionRole")
    ]
    # CreateEndpointConfig needs ExecutionRoleArn to host inference components.
    assert config["ExecutionRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 1,
    }
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g6.12xlarge", 1)
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"


def test_dev_component_runs_the_model_on_every_gpu_with_its_memory_and_startup_limits(
    template: Lookup,
) -> None:
    dev = template("dev")
    component = _component(dev)
    (model_id,) = resources(dev, "AWS::SageMaker::Model")
    (endpoint_id,) = resources(dev, "AWS::SageMaker::Endpoint")
    assert component["InferenceComponentName"] == COMPONENT
    assert component["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
    assert component["VariantName"] == "AllTraffic"
    spec = component["Specification"]
    assert spec["ModelName"] == {"Fn::GetAtt": [model_id, "ModelName"]}
    # ml.g6.12xlarge: 4 GPUs, 192 GiB; one copy takes all four GPUs and reserves half the memory.
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 4,
        "MinMemoryRequiredInMb": 192 * 1024 // 2,
    }
    assert spec["StartupParameters"] == {
        "ModelDataDownloadTimeoutInSeconds": 1800,
        "ContainerStartupHealthCheckTimeoutInSeconds": 1800,
    }
    # The deploy starts one copy even with min_copies 0, so it proves the model loads.
    assert component["RuntimeConfig"] == {"CopyCount": 1}


def test_dev_endpoint_has_no_endpoint_level_rollout_its_component_rolls_instead(template: Lookup) -> None:
    (endpoint,) = resources(template("dev"), "AWS::SageMaker::Endpoint").values()
    assert "DeploymentConfig" not in endpoint["Properties"]


@pytest.mark.parametrize("environment", ["dev", "kept"])
def test_component_and_endpoint_config_use_only_fields_and_ranges_of_sagemakers_api(
    template: Lookup, kept: dict[str, Any], environment: str
) -> None:
    # CloudFormation passes these properties to CreateInferenceComponent and CreateEndpointConfig: every name
    # must be a member of botocore's shape and every integer within its documented range.
    shapes = botocore.session.get_session().get_service_model("sagemaker").shape_for
    built = kept if environment == "kept" else template(environment)

    def check(shape: Any, value: Any) -> None:
        if shape.type_name == "structure":
            assert set(value) <= set(shape.members), (shape.name, set(value) - set(shape.members))
            for member, inner in value.items():
                check(shape.members[member], inner)
        elif shape.type_name == "list":
            for item in value:
                check(shape.member, item)
        elif shape.type_name in ("integer", "float") and isinstance(value, int | float):
            limits = shape.metadata
            assert limits.get("min", value) <= value <= limits.get("max", value), (shape.name, value)
        elif shape.type_name == "string" and isinstance(value, str) and "enum" in shape.metadata:
            assert value in shape.metadata["enum"], (shape.name, value)

    component = _component(built)
    check(shapes("InferenceComponentSpecification"), component["Specification"])
    check(shapes("InferenceComponentRuntimeConfig"), component["RuntimeConfig"])
    if "DeploymentConfig" in component:
        check(shapes("InferenceComponentDeploymentConfig"), component["DeploymentConfig"])
    (variant,) = only(built, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    check(shapes("ProductionVariant"), variant)


def test_a_component_of_two_gpus_fits_two_copies_per_instance(kept: dict[str, Any]) -> None:
    requirements = _component(kept)["Specification"]["ComputeResourceRequirements"]
    assert requirements == {"NumberOfAcceleratorDevicesRequired": 2, "MinMemoryRequiredInMb": 96 * 1024 // 2}
    (variant,) = only(kept, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    # 4 copies at most, 2 per ml.g6.12xlarge: 2 instances; at least 1 copy: 1 instance.
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 1,
        "MaxInstanceCount": 2,
    }
    assert _component(kept)["RuntimeConfig"] == {"CopyCount": 1}


# --- Copy-count autoscaling ---------------------------------------------------------------------------------


def test_dev_copies_scale_between_zero_and_one_on_concurrent_requests_per_copy(template: Lookup) -> None:
    dev = template("dev")
    target = only(dev, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == f"inference-component/{COMPONENT}"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 1)
    (tracking,) = _by_type(dev, "TargetTrackingScaling")
    config = tracking["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    )
    assert config["TargetValue"] == 8


def test_target_tracking_scales_in_to_zero_as_aws_documents_for_scale_to_zero(template: Lookup) -> None:
    # "Scale an endpoint to zero instances": a scalable target with a minimum of 0 and a target tracking
    # policy that may scale in; the copy goes when no request has been in flight for the scale-in alarm's
    # 15 minutes, never on missing data.
    dev = template("dev")
    (tracking,) = _by_type(dev, "TargetTrackingScaling")
    assert tracking["TargetTrackingScalingPolicyConfiguration"].get("DisableScaleIn", False) is False
    (step,) = _by_type(dev, "StepScaling")
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]


@pytest.mark.parametrize("environment", ["dev", "prod", "kept"])
def test_no_alarm_acts_on_missing_data(template: Lookup, kept: dict[str, Any], environment: str) -> None:
    # An idle component publishes no invocation metrics: an alarm breaching on missing data would scale on
    # the absence of data (issue 22, item 7).
    built = kept if environment == "kept" else template(environment)
    alarms = [a["Properties"] for a in resources(built, "AWS::CloudWatch::Alarm").values()]
    assert alarms and {a.get("TreatMissingData", "missing") for a in alarms} <= {"notBreaching", "missing"}


def test_a_refused_request_at_zero_copies_starts_exactly_one_copy(template: Lookup) -> None:
    dev = template("dev")
    # Target tracking cannot scale out from zero: a step policy on NoCapacityInvocationFailures must. It sets
    # one copy, not "one more": the alarm's action runs again while refusals keep it in ALARM.
    policy = _policy(dev, "ScaleOutFromZero")["StepScalingPolicyConfiguration"]
    assert policy["AdjustmentType"] == "ExactCapacity"
    assert policy["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    alarm = _alarm_with_action(dev, "ScaleOutFromZero")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SageMaker", "NoCapacityInvocationFailures")
    assert alarm["Dimensions"] == [{"Name": "InferenceComponentName", "Value": COMPONENT}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 1)


def test_a_component_that_keeps_copies_has_no_zero_policy_and_scales_in_by_tracking(
    kept: dict[str, Any],
) -> None:
    target = only(kept, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    assert _by_type(kept, "StepScaling") == []
    (tracking,) = _by_type(kept, "TargetTrackingScaling")
    assert tracking["TargetTrackingScalingPolicyConfiguration"].get("DisableScaleIn", False) is False
    alarms = [
        a["Properties"]["MetricName"]
        for a in resources(kept, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a["Properties"]
    ]
    assert "NoCapacityInvocationFailures" not in alarms


# --- The component's logs -----------------------------------------------------------------------------------


def _component_log_group(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (key, group)
        for key, group in resources(template, "AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == f"/aws/sagemaker/InferenceComponents/{COMPONENT}"
    ]
    return found


def test_the_component_logs_to_its_own_group_with_the_stacks_retention_key_and_policy(
    template: Lookup,
) -> None:
    dev = template("dev")
    group_id, group = _component_log_group(dev)
    (key_id,) = resources(dev, "AWS::KMS::Key")
    assert group["Properties"]["RetentionInDays"] == 14
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert group["DeletionPolicy"] == "Delete"
    # Created before the component, or SageMaker creates it itself without retention or key.
    (component,) = resources(dev, "AWS::SageMaker::InferenceComponent").values()
    assert group_id in component["DependsOn"]
    assert dev["Outputs"]["ModelLogGroup"]["Value"] == {"Ref": group_id}


def test_the_execution_role_may_write_the_components_log_group(template: Lookup) -> None:
    dev = template("dev")
    group_id, _ = _component_log_group(dev)
    statements = policy_statements(dev, "InferenceExecutionRole")
    writes = [
        s
        for s in statements
        if "logs:PutLogEvents" in as_list(s["Action"])
        and {"Fn::GetAtt": [group_id, "Arn"]} in as_list(s["Resource"])
    ]
    creates = [
        s
        for s in statements
        if "logs:CreateLogGroup" in as_list(s["Action"])
        and {"Fn::GetAtt": [group_id, "Arn"]} in as_list(s["Resource"])
    ]
    assert writes and creates


# --- The agent function -------------------------------------------------------------------------------------


def test_agent_function_invokes_the_endpoint_and_its_component(template: Lookup) -> None:
    dev = template("dev")
    statements = policy_statements(dev, "AgentApiFunctionServiceRole")
    (invoke,) = [s for s in statements if "sagemaker:InvokeEndpoint" in as_list(s["Action"])]
    (endpoint_id,) = resources(dev, "AWS::SageMaker::Endpoint")
    (component_id,) = resources(dev, "AWS::SageMaker::InferenceComponent")
    expected = [{"Ref": endpoint_id}, {"Fn::GetAtt": [component_id, "InferenceComponentArn"]}]
    assert sorted(map(json.dumps, invoke["Resource"])) == sorted(map(json.dumps, expected))


def test_agent_function_may_describe_and_resize_only_its_own_component(template: Lookup) -> None:
    dev = template("dev")
    (component_id,) = resources(dev, "AWS::SageMaker::InferenceComponent")
    statements = policy_statements(dev, "AgentApiFunctionServiceRole")
    control = [s for s in statements if "InferenceComponent" in json.dumps(s["Action"])]
    assert control == [
        {
            "Action": [
                "sagemaker:DescribeInferenceComponent",
                "sagemaker:UpdateInferenceComponentRuntimeConfig",
            ],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [component_id, "InferenceComponentArn"]},
        }
    ]


def test_prod_function_has_no_component_and_no_component_permissions(template: Lookup) -> None:
    prod = template("prod")
    assert resources(prod, "AWS::SageMaker::InferenceComponent") == {}
    assert agent_function(prod)["Environment"]["Variables"]["AGENT_INFERENCE_COMPONENT_NAME"] == ""
    statements = policy_statements(prod, "AgentApiFunctionServiceRole")
    assert not [s for s in statements if "InferenceComponent" in json.dumps(s["Action"])]


def test_dev_function_is_told_its_component(template: Lookup) -> None:
    variables = agent_function(template("dev"))["Environment"]["Variables"]
    assert variables["AGENT_INFERENCE_COMPONENT_NAME"] == COMPONENT
    assert template("dev")["Outputs"]["InferenceComponentName"]["Value"] == COMPONENT


def test_the_construct_refuses_a_component_spec_that_does_not_match_the_mode() -> None:
    stack = Stack(App(), "Probe")
    spec = ComponentSpec("probe-ic", accelerators=4, memory_mb=1024, copies_per_instance=1, max_instances=1)
    for endpoint, component in (
        (EndpointSettings(), spec),
        (EndpointSettings(mode="inference-component"), None),
    ):
        with pytest.raises(ValueError, match="needs"):
            InferenceEndpoint(
                stack,
                f"Probe{component is None}",
                endpoint_name="probe",
                model=ModelSettings(hf_model_id="org/model"),
                tp_degree=4,
                endpoint=endpoint,
                image_uri="image",
                repository=ecr.Repository.from_repository_name(stack, f"Repo{component is None}", "repo"),
                key=kms.Key(stack, f"Key{component is None}"),
                log_retention=logs.RetentionDays.ONE_WEEK,
                retain=False,
                rollback_alarms=[],
                component=component,
            )
