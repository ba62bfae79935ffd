"""Preflight's look at `agent.tool_policy_arns`: the team's policies for its Python tools (docs/tools.md).

CloudFormation attaches them to the function's role (AttachRolePolicy); one that does not exist, or cannot be
attached, fails that create or update (`NoSuchEntity`, botocore's iam model), and the stack rolls back. IAM
attaches 10 managed policies to a role until its quota ("Managed policies per role") is raised, 20 at most;
the function's role has one of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ops.results import Result
from stacks.config import EnvironmentConfig, split_list

# IAM's default quota of managed policies per role, of which the function's role uses one itself.
DEFAULT_ROLE_POLICY_QUOTA = 10


class IamPolicies(Protocol):
    """The one IAM call this check makes (no mypy-boto3 stubs for IAM are installed)."""

    def get_policy(self, *, PolicyArn: str) -> Mapping[str, Any]:
        """Return the managed policy (``Policy.IsAttachable`` among its fields)."""
        ...


def check_tool_policies(config: EnvironmentConfig, iam: IamPolicies) -> Result:
    """Check each policy of `agent.tool_policy_arns` exists and can be attached to a role."""
    arns = split_list(config.agent.tool_policy_arns)
    if not arns:
        return Result("tool policies: none (agent.tool_policy_arns)")
    name = f"tool policies {', '.join(arns)}"
    missing, unattachable = [], []
    for arn in arns:
        try:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            missing.append(arn)
            continue
        if not policy.get("IsAttachable", True):
            unattachable.append(arn)
    if missing:
        return Result(
            name,
            f"no such policy: {', '.join(missing)}; the deploy would fail attaching it",
            "create it (aws iam create-policy --policy-name NAME --policy-document file://policy.json) or "
            "take it out of agent.tool_policy_arns",
        )
    if unattachable:
        return Result(
            name,
            f"IAM says these cannot be attached to a role: {', '.join(unattachable)}",
            "name customer managed policies that IAM marks attachable",
        )
    if len(arns) + 1 > DEFAULT_ROLE_POLICY_QUOTA:
        return Result(
            name,
            f"the function's role would have {len(arns) + 1} managed policies; IAM allows "
            f"{DEFAULT_ROLE_POLICY_QUOTA} until its quota 'Managed policies per role' is raised",
            "raise it in Service Quotas (AWS Identity and Access Management), up to 20, before deploying",
            warning=True,
        )
    return Result(name)
