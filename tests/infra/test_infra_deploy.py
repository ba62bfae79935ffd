"""What a real first or second ``cdk deploy`` needs from the templates (issue 10), each fact pinned here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from infra_support import resources

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]


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


# --- Item 4: the image build must not start before its role may push ------------------------------------


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


# --- Item 2: nothing retained can block a retry after a failed first create -------------------------------


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_no_resource_is_retained_when_a_first_create_rolls_back(template: Lookup, environment: str) -> None:
    policies = {
        key: (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
        for key, r in template(environment)["Resources"].items()
        if "DeletionPolicy" in r or "UpdateReplacePolicy" in r
    }
    assert policies
    assert {policy for policy, _ in policies.values()} <= {"Delete", "RetainExceptOnCreate"}


def test_prod_keeps_its_data_and_key_on_delete_and_dev_deletes_them(template: Lookup) -> None:
    stateful = ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::ECR::Repository", "AWS::Logs::LogGroup")
    for environment, expected in [("dev", "Delete"), ("prod", "RetainExceptOnCreate")]:
        found = {
            r.get("DeletionPolicy")
            for r in template(environment)["Resources"].values()
            if r["Type"] in stateful
        }
        assert found == {expected}, environment


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


# --- Item 7: the key ---------------------------------------------------------------------------------------


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
