"""Preflight's warning on caller roles whose trust policy leaves session names free (issue 25 item 3).

Trust policies are read through a real botocore IAM client with a Stubber: IAM sends the document URL-encoded,
and botocore's own handler decodes it, as it does for the real call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from ops.caller_roles import caller_roles_skipped, check_caller_role, free_session_name_statements
from ops.results import report
from stacks.config import EnvironmentConfig, parse_environment

ACCOUNT = "123456789012"
HF = {"model": {"hf_model_id": "meta-llama/Llama-3.1-8B-Instruct"}}
ACCOUNT_ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
BOUND = {"StringLike": {"sts:RoleSessionName": "${aws:username}"}}


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "sts:AssumeRole", principal: Any = ACCOUNT_ROOT, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


@pytest.mark.parametrize(
    ("statement", "free"),
    [
        (allow(), True),
        (allow(Condition=BOUND), False),
        (allow(Condition={"StringEquals": {"STS:rolesessionname": "ci"}}), False),
        (allow(Condition={"StringLikeIfExists": {"sts:RoleSessionName": "${aws:username}"}}), False),
        (allow(Condition={"StringLike": {"sts:RoleSessionName": "*"}}), True),
        (allow(Condition={"Null": {"sts:RoleSessionName": "false"}}), True),
        (allow(Condition={"StringEquals": {"sts:ExternalId": "x"}}), True),
        (allow(["sts:AssumeRole", "sts:TagSession"]), True),
        (allow("sts:*"), True),
        (allow("STS:Assume*"), True),
        (allow("*"), True),
        ({"Effect": "Allow", "Principal": ACCOUNT_ROOT, "NotAction": "sts:TagSession"}, True),
        ({"Effect": "Allow", "Principal": ACCOUNT_ROOT, "NotAction": "sts:Assume*"}, False),
        (allow(principal="*"), True),
        # A service names its own sessions (a Lambda function's, an instance profile's).
        (allow(principal={"Service": "lambda.amazonaws.com"}), False),
        # SAML: the identity provider sets the name (IAM Identity Center's roles).
        (
            allow(
                ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_1_DO_NOT_DELETE"},
            ),
            False,
        ),
        # Web identity (here GitHub's OIDC): the caller passes RoleSessionName.
        (
            allow(
                "sts:AssumeRoleWithWebIdentity",
                {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"},
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"}},
            ),
            True,
        ),
        ({**allow(), "Effect": "Deny"}, False),
    ],
)
def test_a_statement_leaves_names_free_unless_bound(statement: dict[str, Any], free: bool) -> None:
    assert free_session_name_statements(trust(statement)) == (["statement 1"] if free else [])


def test_free_statements_are_named_by_sid_else_position() -> None:
    document = trust(allow(Sid="Analysts"), allow(Condition=BOUND), allow())
    assert free_session_name_statements(document) == ["Analysts", "statement 3"]


def test_a_single_statement_object_is_read_like_a_list_of_one() -> None:
    assert free_session_name_statements({"Statement": allow()}) == ["statement 1"]


def test_a_deny_outside_the_allowed_names_binds_every_statement() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": ACCOUNT_ROOT,
        "Action": "sts:AssumeRole",
        "Condition": {"StringNotLike": {"sts:RoleSessionName": "${aws:username}"}},
    }
    assert free_session_name_statements(trust(allow(), deny)) == []


# --- the check against IAM ----------------------------------------------------------------------------------


@pytest.fixture
def iam() -> Iterator[Stubber]:
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def role(name: str, document: dict[str, Any]) -> dict[str, Any]:
    """GetRole's answer as IAM sends it: the trust policy URL-encoded."""
    return {
        "Role": {
            "Path": "/",
            "RoleName": name,
            "RoleId": "AROAEXAMPLEEXAMPLE1",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "CreateDate": "2026-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": quote(json.dumps(document)),
        }
    }


def test_a_role_whose_callers_choose_any_session_name_is_a_warning_with_the_remedy(iam: Stubber) -> None:
    iam.add_response("get_role", role("analyst", trust(allow())), {"RoleName": "analyst"})
    result = check_caller_role(iam.client, "analyst")
    assert (result.ok, result.warning) == (False, True)
    assert result.name == "caller role analyst"
    assert "lets whoever may assume it choose any session name (statement 1)" in str(result.problem)
    assert '"StringLike": {"sts:RoleSessionName": "${aws:username}"}' in str(result.fix)
    lines: list[str] = []
    assert report([result], lines.append)  # a warning does not fail preflight
    assert lines[0].startswith("WARN  caller role analyst: its trust policy lets whoever")


def test_a_role_that_binds_session_names_passes(iam: Stubber) -> None:
    iam.add_response("get_role", role("analyst", trust(allow(Condition=BOUND))), {"RoleName": "analyst"})
    result = check_caller_role(iam.client, f"arn:aws:iam::{ACCOUNT}:role/team/analyst")
    assert (result.problem, result.name) == (
        None,
        "caller role analyst: callers cannot choose each other's session names",
    )


def test_a_role_that_does_not_exist_fails(iam: Stubber) -> None:
    iam.add_client_error("get_role", "NoSuchEntity", "The role with name nobody cannot be found.")
    result = check_caller_role(iam.client, "nobody")
    assert (result.ok, result.problem) == (False, "no such role in this account")


def environment(auth: str) -> EnvironmentConfig:
    return parse_environment("dev", {**HF, "api": {"auth": auth}})


def test_without_named_roles_nothing_is_checked_and_preflight_says_how_to() -> None:
    result = caller_roles_skipped(environment("iam"), [])
    assert result is not None and result.ok
    assert "CALLER_ROLES=" in result.name
    assert caller_roles_skipped(environment("iam"), ["analyst"]) is None


def test_under_cognito_roles_are_not_needed() -> None:
    result = caller_roles_skipped(environment("cognito"), ["analyst"])
    assert result is not None and "not needed (api.auth is cognito" in result.name
