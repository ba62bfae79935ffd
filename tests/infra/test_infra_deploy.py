"""What a real first or second ``cdk deploy`` needs from the templates (issue 10), each fact pinned here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from ops.preflight import MIN_BOOTSTRAP_VERSION
from stacks.agent_api.lambda_contract import contract
from stacks.config import EndpointSettings, EnvironmentConfig
from stacks.rollout import rollout_instances
from tests.infra.infra_support import agent_function, cdk_context, resources, synthesize

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]
TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-oncall"


def _logical_id(template: dict[str, Any], resource_type: str) -> str:
    (logical_id,) = resources(template, resource_type)
    return logical_id


def _key_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (key,) = resources(template, "AWS::KMS::Key").values()
    return list(key["Properties"]["KeyPolicy"]["Statement"])


def _service_statements(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _key_statements(template)
        if service in json.dumps(s.get("Principal", {}).get("Service", ""))
    ]


# --- Item 4: the image build must not start before its role may push ----------------------------------------


def test_image_build_waits_for_the_codebuild_roles_policy(template: Lookup) -> None:
    dev = template("dev")
    (project,) = resources(dev, "AWS::CodeBuild::Project").values()
    role_id = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    (policy_id,) = [
        key
        for key, policy in resources(dev, "AWS::IAM::Policy").items()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    (image,) = resources(dev, "Custom::ServingImage").values()
    assert {role_id, policy_id} <= set(image["DependsOn"])


# --- Item 5: SageMaker's instance and GPU metrics -----------------------------------------------------------


def test_execution_role_may_put_metrics_in_sagemakers_namespaces_only(template: Lookup) -> None:
    statements = [
        statement
        for key, policy in resources(template("dev"), "AWS::IAM::Policy").items()
        if key.startswith("InferenceExecutionRole")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "cloudwatch:PutMetricData"
    ]
    assert statements == [
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]


# --- Item 7: the key ----------------------------------------------------------------------------------------


def test_logs_may_use_the_key_only_for_this_accounts_log_groups(template: Lookup) -> None:
    (statement,) = _service_statements(template("dev"), "logs.")
    arn = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert arn == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":*",
            ],
        ]
    }


def test_cloudwatch_may_use_the_key_only_for_this_accounts_alarms(template: Lookup) -> None:
    (statement,) = _service_statements(template("dev"), "cloudwatch.amazonaws.com")
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1][-1] == ":alarm:*"


# --- Item 3: rollouts ---------------------------------------------------------------------------------------


def _endpoint(template: dict[str, Any]) -> dict[str, Any]:
    (endpoint,) = resources(template, "AWS::SageMaker::Endpoint").values()
    return dict(endpoint["Properties"])


def _alarm_ids(template: dict[str, Any], *prefixes: str) -> list[str]:
    return [key for key in resources(template, "AWS::CloudWatch::Alarm") if key.startswith(prefixes)]


def test_prod_rolls_out_one_instance_at_a_time_and_rolls_back_on_the_endpoint_error_alarms(
    template: Lookup,
) -> None:
    prod = template("prod")
    config = _endpoint(prod)["DeploymentConfig"]
    policy = config["RollingUpdatePolicy"]
    one = {"Type": "INSTANCE_COUNT", "Value": 1}
    assert (policy["MaximumBatchSize"], policy["RollbackMaximumBatchSize"]) == (one, one)
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    alarms = [alarm["AlarmName"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]]
    expected = _alarm_ids(prod, "MonitoringEndpoint5xx", "MonitoringEndpointModelErrors")
    assert alarms == [{"Ref": alarm_id} for alarm_id in expected] and len(alarms) == 2


def test_a_one_instance_endpoint_rolls_out_blue_green_all_at_once(weights: dict[str, Any]) -> None:
    # A rolling batch "must be between 5% to 50% of the variant's total instance count" (RollingUpdatePolicy).
    config = _endpoint(weights)["DeploymentConfig"]
    assert "RollingUpdatePolicy" not in config
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "ALL_AT_ONCE"
    assert len(config["AutoRollbackConfiguration"]["Alarms"]) == 2


@pytest.mark.parametrize("environment", ["weights", "prod"])
def test_rollout_timings_are_within_sagemakers_api_limits(
    template: Lookup, weights: dict[str, Any], environment: str
) -> None:
    # Ranges from botocore's SageMaker model (the update policies and TrafficRoutingConfig).
    shapes = botocore.session.get_session().get_service_model("sagemaker").shape_for
    config = _endpoint(weights if environment == "weights" else template(environment))["DeploymentConfig"]
    (policy_name,) = {"RollingUpdatePolicy", "BlueGreenUpdatePolicy"} & set(config)
    policy = config[policy_name]
    checked = [(shapes(policy_name), policy)]
    if policy_name == "BlueGreenUpdatePolicy":
        checked.append((shapes("TrafficRoutingConfig"), policy["TrafficRoutingConfiguration"]))
    for shape, values in checked:
        for member, value in values.items():
            limits = shape.members[member].metadata
            if isinstance(value, int):
                assert limits.get("min", value) <= value <= limits.get("max", value), (member, value)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_rollouts_keep_the_instance_count_autoscaling_chose(template: Lookup, environment: str) -> None:
    assert _endpoint(template(environment))["RetainAllVariantProperties"] is True


@pytest.mark.parametrize(
    ("endpoint", "instances"),
    [
        ({"min_instances": 1, "max_instances": 1}, 2),
        ({"min_instances": 1, "max_instances": 3}, 6),
        ({"min_instances": 2, "max_instances": 4}, 5),
    ],
)
def test_rollout_quota_covers_the_fleet_autoscaling_may_reach_plus_the_new_instances(
    endpoint: dict[str, int], instances: int
) -> None:
    assert rollout_instances(EndpointSettings(**endpoint)) == instances


def test_every_endpoint_name_fits_sagemakers_limit() -> None:
    longest = EnvironmentConfig(name="e" * 32, endpoint=EndpointSettings(instance_type="ml.p5en.48xlarge"))
    assert len(longest.endpoint_name) <= 63


# --- Item 9: alarms -----------------------------------------------------------------------------------------


def test_alarms_cover_endpoint_errors_latency_agent_errors_throttles_and_api_5xx(template: Lookup) -> None:
    prod = template("prod")
    alarms = [r["Properties"] for r in resources(prod, "AWS::CloudWatch::Alarm").values()]
    single = [a for a in alarms if "MetricName" in a]
    assert sorted((a["Namespace"], a["MetricName"]) for a in single) == [
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
        ("AWS/SageMaker", "InvocationModelErrors"),
        ("AWS/SageMaker", "ModelLatency"),
    ]
    (api_5xx,) = [a for a in alarms if "Metrics" in a]
    assert "5XX" in api_5xx["AlarmDescription"]
    (topic,) = resources(prod, "AWS::SNS::Topic")
    assert all(alarm["AlarmActions"] == [{"Ref": topic}] for alarm in alarms)
    latency = next(a for a in single if a["MetricName"] == "ModelLatency")
    assert latency["Threshold"] == 120 * 1_000_000


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_api_5xx_alarm_leaves_out_the_apps_own_model_warming_refusals(
    template: Lookup, environment: str
) -> None:
    # A model scaled to zero answers `503 model_warming` with Retry-After by design: not an alarm.
    alarm = next(
        a["Properties"]
        for a in resources(template(environment), "AWS::CloudWatch::Alarm").values()
        if "Metrics" in a["Properties"] and "5XX" in a["Properties"]["AlarmDescription"]
    )
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert metrics["expr_1"]["Expression"] == "FILL(api5xx, 0) - FILL(warming, 0)"
    api = metrics["api5xx"]["MetricStat"]["Metric"]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    warming = metrics["warming"]["MetricStat"]
    # What RequestMetrics.model_warming_refusal writes: Powertools' EMF, dimensioned by service.
    assert warming["Metric"] == {
        "Namespace": contract.METRICS_NAMESPACE,
        "MetricName": contract.MODEL_WARMING_REFUSALS_METRIC,
        "Dimensions": [{"Name": "service", "Value": contract.SERVICE_NAME}],
    }
    assert (warming["Stat"], alarm["Threshold"]) == ("Sum", 1)


def test_endpoint_alarms_watch_the_endpoint_by_its_deployed_name(template: Lookup) -> None:
    prod = template("prod")
    name = _endpoint(prod)["EndpointName"]
    for alarm_id in _alarm_ids(prod, "MonitoringEndpoint", "MonitoringModelLatency"):
        dimensions = resources(prod, "AWS::CloudWatch::Alarm")[alarm_id]["Properties"]["Dimensions"]
        assert {"Name": "EndpointName", "Value": name} in dimensions


def test_component_alarms_watch_the_component_by_its_deployed_name(template: Lookup) -> None:
    # SageMaker reports an inference component's invocation metrics per InferenceComponentName.
    dev = template("dev")
    (component,) = resources(dev, "AWS::SageMaker::InferenceComponent").values()
    name = component["Properties"]["InferenceComponentName"]
    alarm_ids = _alarm_ids(dev, "MonitoringEndpoint", "MonitoringModelLatency")
    assert len(alarm_ids) == 3
    for alarm_id in alarm_ids:
        dimensions = resources(dev, "AWS::CloudWatch::Alarm")[alarm_id]["Properties"]["Dimensions"]
        assert dimensions == [{"Name": "InferenceComponentName", "Value": name}]


@pytest.fixture(scope="module")
def existing_topic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """prod, its alarms sent to a topic the team already has (``monitoring.alarm_topic_arn``)."""
    prod = cdk_context()["environments"]["prod"]
    changed = {**prod, "monitoring": {**prod["monitoring"], "alarm_email": None, "alarm_topic_arn": TOPIC}}
    synthesized = synthesize(tmp_path_factory.mktemp("topic.out"), env="prod", environments={"prod": changed})
    return synthesized.templates["SageMakerAgent-prod"]


def test_alarms_may_notify_an_existing_topic_instead_of_one_of_the_stack(
    existing_topic: dict[str, Any],
) -> None:
    assert resources(existing_topic, "AWS::SNS::Topic") == {}
    alarms = [a["Properties"] for a in resources(existing_topic, "AWS::CloudWatch::Alarm").values()]
    assert len(alarms) == 6 and all(alarm["AlarmActions"] == [TOPIC] for alarm in alarms)
    # The stack's key encrypts no topic then: CloudWatch is not let use it.
    assert _service_statements(existing_topic, "cloudwatch.amazonaws.com") == []


# --- Issue 22, item 10: the agent function's concurrency ---------------------------------------------------


@pytest.mark.parametrize(("environment", "reserved"), [("dev", 16), ("prod", 64)])
def test_the_agent_function_reserves_twice_the_requests_the_endpoint_serves(
    template: Lookup, environment: str, reserved: int
) -> None:
    # dev: 1 copy x 8 requests in flight; prod: 4 instances x 8 (docs/deploy.md, "Agent function").
    assert agent_function(template(environment))["ReservedConcurrentExecutions"] == reserved


# --- Item 1: base images ------------------------------------------------------------------------------------


def _build_variables(template: dict[str, Any]) -> dict[str, Any]:
    (project,) = resources(template, "AWS::CodeBuild::Project").values()
    return {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}


def test_base_images_come_through_the_environments_own_ecr_pull_through_cache_of_docker_hub(
    template: Lookup,
) -> None:
    dev = template("dev")
    (rule,) = resources(dev, "AWS::ECR::PullThroughCacheRule").values()
    properties = rule["Properties"]
    assert (properties["EcrRepositoryPrefix"], properties["UpstreamRegistry"]) == (
        "dev-docker-hub",
        "docker-hub",
    )
    assert properties["UpstreamRegistryUrl"] == "registry-1.docker.io"
    assert properties["CredentialArn"]["Fn::Join"][1][-1] == ":secret:ecr-pullthroughcache/docker-hub"
    registry = _build_variables(dev)["BASE_REGISTRY"]["Fn::Join"][1]
    assert registry[0] == {"Ref": "AWS::AccountId"} and registry[-1] == "/dev-docker-hub/"


def test_the_build_may_import_images_into_the_cache_prefix_only(template: Lookup) -> None:
    dev = template("dev")
    (project,) = resources(dev, "AWS::CodeBuild::Project").values()
    role_id = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in resources(dev, "AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchImportUpstreamImage" in statement["Action"]
    ]
    (statement,) = statements
    assert "ecr:CreateRepository" in statement["Action"]
    assert statement["Resource"]["Fn::Join"][1][-1] == ":repository/dev-docker-hub/*"


def test_docker_hub_is_an_explicit_opt_in_without_a_cache_rule(weights: dict[str, Any]) -> None:
    assert resources(weights, "AWS::ECR::PullThroughCacheRule") == {}
    assert _build_variables(weights)["BASE_REGISTRY"] == ""


# --- Preflight agrees with the templates --------------------------------------------------------------------


def test_preflight_requires_the_bootstrap_version_the_templates_check(template: Lookup) -> None:
    (assertion,) = template("dev")["Rules"]["CheckBootstrapVersion"]["Assertions"]
    refused = assertion["Assert"]["Fn::Not"][0]["Fn::Contains"][0]
    assert max(int(version) for version in refused) + 1 == MIN_BOOTSTRAP_VERSION
