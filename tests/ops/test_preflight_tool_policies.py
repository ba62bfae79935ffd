"""Preflight's check of `agent.tool_policy_arns` (ops/tool_policies.py), against botocore's Stubber (requests
and answers checked by IAM's model)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from ops import preflight
from ops.tool_policies import check_tool_policies

# stubbed_clients: the fixture `stubbed`, preflight's own (the doctor's in conftest.py has that name too).
from tests.ops.preflight_fakes import Stubbed, environment, stubbed_clients  # noqa: F401

ORDERS = "arn:aws:iam::123456789012:policy/orders-read"
ATHENA = "arn:aws:iam::123456789012:policy/team/athena-query"


def with_policies(*arns: str) -> Any:
    return environment(agent={"tool_policy_arns": ",".join(arns)})


def policy(stubbed: Stubbed, arn: str, *, attachable: bool = True) -> None:
    name = arn.rsplit("/", 1)[1]
    stubbed.stubs["iam"].add_response(
        "get_policy",
        {
            "Policy": {
                "PolicyName": name,
                "Arn": arn,
                "IsAttachable": attachable,
                "CreateDate": datetime(2026, 1, 1, tzinfo=UTC),
            }
        },
        {"PolicyArn": arn},
    )


def test_no_tool_policies_needs_no_call(stubbed: Stubbed) -> None:
    result = check_tool_policies(environment(), stubbed.clients.iam)
    assert result.ok and result.name == "tool policies: none (agent.tool_policy_arns)"


def test_existing_attachable_policies_pass(stubbed: Stubbed) -> None:
    policy(stubbed, ORDERS)
    policy(stubbed, ATHENA)
    result = check_tool_policies(with_policies(ORDERS, ATHENA), stubbed.clients.iam)
    assert result.ok and not result.warning and ORDERS in result.name and ATHENA in result.name


def test_a_missing_policy_fails_with_how_to_create_it(stubbed: Stubbed) -> None:
    policy(stubbed, ORDERS)
    stubbed.stubs["iam"].add_client_error(
        "get_policy",
        "NoSuchEntity",
        f"Policy {ATHENA} was not found.",
        404,
        expected_params={"PolicyArn": ATHENA},
    )
    result = check_tool_policies(with_policies(ORDERS, ATHENA), stubbed.clients.iam)
    assert result.problem == f"no such policy: {ATHENA}; the deploy would fail attaching it"
    assert result.fix is not None and "aws iam create-policy" in result.fix


def test_a_policy_iam_cannot_attach_fails(stubbed: Stubbed) -> None:
    policy(stubbed, ORDERS, attachable=False)
    result = check_tool_policies(with_policies(ORDERS), stubbed.clients.iam)
    assert result.problem == f"IAM says these cannot be attached to a role: {ORDERS}"


def test_more_policies_than_the_default_quota_is_a_warning_naming_the_quota(stubbed: Stubbed) -> None:
    arns = [f"arn:aws:iam::123456789012:policy/p{index}" for index in range(10)]
    for arn in arns:
        policy(stubbed, arn)
    result = check_tool_policies(with_policies(*arns), stubbed.clients.iam)
    assert result.warning
    assert result.problem == (
        "the function's role would have 11 managed policies; IAM allows 10 until its quota 'Managed policies "
        "per role' is raised"
    )


def test_another_iam_error_is_left_to_preflight_which_fails_this_check_with_it(stubbed: Stubbed) -> None:
    # run_checks turns it into "could not be checked: ..." (tests/ops/test_preflight.py).
    stubbed.stubs["iam"].add_client_error("get_policy", "AccessDenied", "not authorized", 403)
    with pytest.raises(ClientError, match="AccessDenied"):
        check_tool_policies(with_policies(ORDERS), stubbed.clients.iam)
    assert preflight.check_tool_policy_arns in preflight.CHECKS


def test_a_missing_policy_is_the_error_code_iam_gives_get_policy() -> None:
    model = botocore.session.get_session().get_service_model("iam")
    codes = {shape.metadata["error"]["code"] for shape in model.operation_model("GetPolicy").error_shapes}
    assert "NoSuchEntity" in codes
    assert "IsAttachable" in model.shape_for("Policy").members
