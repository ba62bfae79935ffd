"""What a later update, or the rollback of a failed first deploy, does to the stack (issue 22, items 1-5).

CloudFormation replaces a resource when one of its create-only properties changes (the resource schemas'
``createOnlyProperties``, read from the schemas cfn-lint ships), and creates a resource anew when its logical
id is new, deleting the old one in its cleanup phase. A failed first create deletes every resource it made
whose DeletionPolicy is not ``Retain``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stacks.config import EndpointSettings
from stacks.rollout import component_rollout_copies
from tests.infra.infra_support import cdk_context, create_only_properties, only, resources, synthesize

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]
# What depends on an inference component's name: it must be replaced or created anew with the component.
_NAMED_AFTER_COMPONENT = (
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::Logs::LogGroup",
)


@pytest.fixture(scope="module")
def other_instance_type(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """dev, with only its instance type changed (what a user edits in cdk.json)."""
    dev = cdk_context()["environments"]["dev"]
    changed = {**dev, "endpoint": {**dev["endpoint"], "instance_type": "ml.g6e.12xlarge"}}
    synthesized = synthesize(tmp_path_factory.mktemp("g6e.out"), env="dev", environments={"dev": changed})
    return synthesized.templates["SageMakerAgent-dev"]


def _is_replaced(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether CloudFormation replaces ``before`` when the template gives it ``after``'s properties."""
    changed = {
        key
        for key in set(before["Properties"]) | set(after["Properties"])
        if before["Properties"].get(key) != after["Properties"].get(key)
    }
    return bool(changed & create_only_properties(before["Type"]))


# --- Item 1: a new instance type brings a new component beside the new endpoint -----------------------------


def test_an_inference_component_has_no_create_only_property_so_only_a_new_logical_id_replaces_it() -> None:
    # What makes item 1 necessary: a changed EndpointName or InferenceComponentName alone would be an
    # UpdateInferenceComponent of the old component, which cannot rename it nor move it to another endpoint.
    assert create_only_properties("AWS::SageMaker::InferenceComponent") == set()
    assert create_only_properties("AWS::SageMaker::Endpoint") == {"EndpointName"}


def test_a_new_instance_type_creates_a_new_component_beside_the_new_endpoint(
    template: Lookup, other_instance_type: dict[str, Any]
) -> None:
    before, after = template("dev"), other_instance_type
    (old_id, old), (new_id, new) = (
        next(iter(resources(version, "AWS::SageMaker::InferenceComponent").items()))
        for version in (before, after)
    )
    assert old_id != new_id
    assert (old["Properties"]["InferenceComponentName"], new["Properties"]["InferenceComponentName"]) == (
        "SageMakerAgent-dev-g6-12xlarge-ic",
        "SageMakerAgent-dev-g6e-12xlarge-ic",
    )
    # The endpoint keeps its logical id and is replaced (a new EndpointName): the new component is hosted
    # by the new endpoint, and the old component, which depends on the old endpoint, is deleted before it.
    (endpoint_id,) = resources(before, "AWS::SageMaker::Endpoint")
    assert set(resources(after, "AWS::SageMaker::Endpoint")) == {endpoint_id}
    assert _is_replaced(before["Resources"][endpoint_id], after["Resources"][endpoint_id])
    assert new["Properties"]["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}


def test_everything_named_after_the_component_is_created_anew_or_replaced_with_it(
    template: Lookup, other_instance_type: dict[str, Any]
) -> None:
    before, after = template("dev"), other_instance_type
    old_name = only(before, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    named = {
        logical_id: resource
        for logical_id, resource in before["Resources"].items()
        if resource["Type"] in _NAMED_AFTER_COMPONENT and old_name in json.dumps(resource["Properties"])
    }
    # ... and what is attached to those (the scaling policies name their target).
    named.update(
        {
            logical_id: resource
            for logical_id, resource in before["Resources"].items()
            if resource["Type"] in _NAMED_AFTER_COMPONENT
            and any(json.dumps({"Ref": target}) in json.dumps(resource["Properties"]) for target in named)
        }
    )
    # The target, its two policies and the component's log group.
    assert sorted(r["Type"] for r in named.values()) == sorted(
        [
            "AWS::ApplicationAutoScaling::ScalableTarget",
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "AWS::Logs::LogGroup",
        ]
    )
    for logical_id, resource in named.items():
        kept = after["Resources"].get(logical_id)
        # Either the logical id is gone (CloudFormation deletes it after creating the new one), or its
        # create-only properties change (CloudFormation replaces it): never updated in place under a name
        # that no longer exists, and never a new resource sharing a physical id with one being deleted.
        assert kept is None or _is_replaced(resource, kept), logical_id


def test_the_agent_and_the_alarms_follow_the_new_component(
    template: Lookup, other_instance_type: dict[str, Any]
) -> None:
    new_name = only(other_instance_type, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    assert other_instance_type["Outputs"]["InferenceComponentName"]["Value"] == new_name
    watched = [
        dimension["Value"]
        for alarm in resources(other_instance_type, "AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "InferenceComponentName"
    ]
    # Errors, model errors, latency, and the scale-out-from-zero alarm.
    assert watched == [new_name] * 4


# --- Item 2: a failed first deploy rolls back completely; a deployed environment keeps its data -------------


def _deleted_on_failed_create(resource: dict[str, Any]) -> bool:
    return resource.get("DeletionPolicy", "Delete") in ("Delete", "RetainExceptOnCreate")


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_everything_a_failed_first_create_deletes_can_be_deleted(template: Lookup, environment: str) -> None:
    deleted = [r for r in template(environment)["Resources"].values() if _deleted_on_failed_create(r)]
    for repository in (r for r in deleted if r["Type"] == "AWS::ECR::Repository"):
        # The build has pushed its image by then: "If false, the repository must be empty" (EmptyOnDelete).
        assert repository["Properties"].get("EmptyOnDelete") is True
    for pool in (r for r in deleted if r["Type"] == "AWS::Cognito::UserPool"):
        # Cognito refuses DeleteUserPool while DeletionProtection is ACTIVE.
        assert pool["Properties"].get("DeletionProtection", "INACTIVE") == "INACTIVE"


def test_only_a_deletion_protected_user_pool_outlives_a_failed_first_create(template: Lookup) -> None:
    retained = {
        resource["Type"]: resource
        for env in ("dev", "prod")
        for resource in template(env)["Resources"].values()
        if not _deleted_on_failed_create(resource)
    }
    assert set(retained) == {"AWS::Cognito::UserPool"}
    pool = retained["AWS::Cognito::UserPool"]
    # It has no fixed name: a retry creates a new pool beside the empty one the rollback left.
    assert "UserPoolName" not in pool["Properties"]
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_a_deployed_prod_keeps_its_data_key_and_users_on_delete_and_dev_deletes_them(
    template: Lookup,
) -> None:
    stateful = (
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::ECR::Repository",
        "AWS::Logs::LogGroup",
        "AWS::Cognito::UserPool",
    )
    for environment, expected in [("dev", {"Delete"}), ("prod", {"RetainExceptOnCreate", "Retain"})]:
        found = {
            r.get("DeletionPolicy")
            for r in template(environment)["Resources"].values()
            if r["Type"] in stateful
        }
        assert found == expected, environment
    assert {
        r.get("UpdateReplacePolicy") for r in template("prod")["Resources"].values() if r["Type"] in stateful
    } == {"Retain"}


# --- Item 3: a component's rolling update only where SageMaker allows its batch -----------------------------


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A component that never runs fewer than two copies."""
    environment = {
        "retain_data": True,
        "model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct", "tp_degree": 2},
        "endpoint": {"mode": "inference-component", "min_copies": 2, "max_copies": 4},
    }
    synthesized = synthesize(tmp_path_factory.mktemp("two.out"), env="two", environments={"two": environment})
    return synthesized.templates["SageMakerAgent-two"]


def test_a_component_at_zero_or_one_copy_updates_without_a_rolling_batch(template: Lookup) -> None:
    # "The value must be between 5% to 50% of the copy count" (InferenceComponentRollingUpdatePolicy): no
    # batch of one copy or of none is; without a deployment config SageMaker updates blue/green.
    component = only(template("dev"), "AWS::SageMaker::InferenceComponent")
    assert "DeploymentConfig" not in component


def test_a_component_of_two_copies_or_more_rolls_half_of_them_at_a_time(two_copies: dict[str, Any]) -> None:
    config = only(two_copies, "AWS::SageMaker::InferenceComponent")["DeploymentConfig"]
    policy = config["RollingUpdatePolicy"]
    half = {"Type": "CAPACITY_PERCENT", "Value": 50}
    assert (policy["MaximumBatchSize"], policy["RollbackMaximumBatchSize"]) == (half, half)
    assert policy["WaitIntervalInSeconds"] == 300
    alarms = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    expected = [
        k for k in resources(two_copies, "AWS::CloudWatch::Alarm") if k.startswith("MonitoringEndpoint")
    ]
    assert alarms == [{"Ref": alarm_id} for alarm_id in expected] and len(alarms) == 2


@pytest.mark.parametrize(
    ("min_copies", "max_copies", "copies"),
    [(0, 1, 2), (1, 1, 2), (1, 3, 6), (2, 4, 6), (2, 3, 5)],
)
def test_the_rollout_quota_counts_a_blue_green_fleet_or_a_rolling_step(
    min_copies: int, max_copies: int, copies: int
) -> None:
    endpoint = EndpointSettings(mode="inference-component", min_copies=min_copies, max_copies=max_copies)
    assert component_rollout_copies(endpoint) == copies


# --- Item 5: the build pulls through a cache rule that exists -----------------------------------------------


def test_the_image_build_waits_for_the_pull_through_cache_rule(template: Lookup) -> None:
    dev = template("dev")
    (rule_id,) = resources(dev, "AWS::ECR::PullThroughCacheRule")
    (image,) = resources(dev, "Custom::ServingImage").values()
    assert rule_id in image["DependsOn"]
