"""`agent.tool_policy_arns`: the team's customer managed policies on the function's role, for what its Python
tools call (docs/tools.md), and synth's rules for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from stacks.config import ConfigError, parse_environment
from stacks.config.tool_sources import MAX_TOOL_POLICIES
from tests.infra.infra_support import deployed_values, resources, synthesize
from tests.infra.test_infra_nag import findings
from tests.infra.test_infra_tool_sources import environment as with_agent

pytestmark = pytest.mark.infra

ORDERS = "arn:aws:iam::123456789012:policy/orders-read"
ATHENA = "arn:aws:iam::123456789012:policy/team/tools/athena-query"
STACK = "SageMakerAgent-policies"
DEV = "cdk.json environment 'dev':"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def environment(arns: str, **top_level: Any) -> dict[str, Any]:
    """cdk.json's dev environment with ``agent.tool_policy_arns`` = ``arns`` and ``top_level`` keys."""
    return {**with_agent(tool_policy_arns=arns), **top_level}


def function_role_policies(template: dict[str, Any], stack: str) -> list[Any]:
    """The managed policies of the agent function's role, as deployed."""
    (role,) = [
        properties
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if logical_id.startswith("AgentApiFunctionServiceRole")
        for properties in [role["Properties"]]
    ]
    return list(deployed_values(role["ManagedPolicyArns"], template, stack))


def test_the_functions_role_gets_the_named_policies_and_cdk_nag_finds_nothing(tmp_path: Path) -> None:
    synthesized = synthesize(
        tmp_path, env="policies", environments={"policies": environment(arns=f"{ORDERS}, {ATHENA}")}
    )
    template = synthesized.templates[STACK]
    assert function_role_policies(template, STACK) == [BASIC_EXECUTION, ORDERS, ATHENA]
    # Customer managed policies are not cdk-nag's AwsSolutions-IAM4 (AWS managed ones): none to acknowledge.
    assert findings(synthesized.app.node.find_child(STACK)) == []


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_by_default_the_role_has_only_its_own_policy(template: Callable[[str], Any], name: str) -> None:
    assert function_role_policies(template(name), f"SageMakerAgent-{name}") == [BASIC_EXECUTION]


@pytest.mark.parametrize(
    ("arns", "problem"),
    [
        ("arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess", "an AWS managed policy"),
        ("arn:aws:iam::123456789012:role/orders", "comma-separated ARNs of customer managed IAM policies"),
        ("arn:aws:iam::1234:policy/orders", "comma-separated ARNs"),
        (f"{ORDERS},orders-read", "comma-separated ARNs"),
        ("arn:aws:iam::123456789012:policy/bad//path/x", "comma-separated ARNs"),
    ],
)
def test_what_is_not_a_customer_managed_policy_arn_fails_synth(arns: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment("dev", environment(arns=arns))
    assert str(raised.value).startswith(f"{DEV} agent.tool_policy_arns: got {arns!r}; allowed: ")
    assert problem in str(raised.value)


def test_a_policy_of_another_account_fails_synth_naming_both_accounts() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment("dev", environment(arns=ORDERS, account="210987654321"))
    assert str(raised.value) == (
        f"{DEV} agent.tool_policy_arns: {ORDERS} is a policy of account 123456789012; a role can have only "
        "its own account's policies (210987654321, the environment's account)"
    )


def test_no_more_policies_than_a_role_takes_beside_its_own() -> None:
    arns = [f"arn:aws:iam::123456789012:policy/p{index}" for index in range(MAX_TOOL_POLICIES + 1)]
    assert parse_environment("dev", environment(arns=",".join(arns[:-1]))).agent.tool_policy_arns
    with pytest.raises(ConfigError, match=r"agent.tool_policy_arns: got 20 policies; allowed: at most 19 "):
        parse_environment("dev", environment(arns=",".join(arns)))


def test_the_arn_rule_is_iams_own_for_policy_paths_and_names() -> None:
    # stacks/config/schema.py IAM_POLICY_ARN quotes these from botocore's iam model.
    model = botocore.session.get_session().get_service_model("iam")
    assert model.shape_for("policyPathType").metadata["pattern"] == r"((/[A-Za-z0-9\.,\+@=_-]+)*)/"
    assert model.shape_for("policyNameType").metadata == {"min": 1, "max": 128, "pattern": r"[\w+=,.@-]+"}
