"""cdk-nag v3 rule packs checked on every synth: AWS Solutions, NIST 800-53 rev 5 and HIPAA Security.

A finding fails synthesis unless it is acknowledged with :func:`acknowledge` next to the construct it
concerns. The helpers below name the findings of one kind each and take the reason specific to that
construct, so a construct states why, never which rule ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks
from constructs import IConstruct

Reasons = Mapping[str, str]
# The wildcard actions of CDK's grants, as nag quotes them.
KEY_GRANT_ACTIONS = ("kms:ReEncrypt*", "kms:GenerateDataKey*")
BUCKET_READ_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
BUCKET_WRITE_ACTIONS = ("s3:DeleteObject*", "s3:Abort*")


def nag_packs() -> list[NagPack]:
    """Fresh instances of every rule pack this project must pass."""
    return [AwsSolutionsChecks(), NIST80053R5Checks(), HIPAASecurityChecks()]


def add_nag_validation(app: IConstruct) -> None:
    """Register the rule packs as policy-validation plugins so any unacknowledged finding fails synth."""
    Validations.of(app).add_plugins(*nag_packs())


def acknowledge(construct: IConstruct, *reasons: Reasons) -> None:
    """Acknowledge findings on ``construct`` and its children, one specific reason per rule or finding id."""
    merged: dict[str, str] = {}
    for group in reasons:
        for rule, why in group.items():
            if merged.setdefault(rule, why) != why:
                raise ValueError(f"{rule} is acknowledged twice with different reasons")
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=why) for rule, why in merged.items())
    )


def compliance_rule(rule: str, reason: str) -> Reasons:
    """Name the same rule as both compliance packs do (NIST 800-53 rev 5 and HIPAA Security)."""
    return {f"NIST.800.53.R5-{rule}": reason, f"HIPAA.Security-{rule}": reason}


def lambda_function(
    *,
    logs: str,
    vpc: str,
    concurrency: str | None,
    dead_letter_queue: str,
    inline_policy: str,
    runtime: str | None = None,
) -> Reasons:
    """Name the findings every function here raises, each with its reason for this function.

    ``logs``: why the AWS-managed basic execution role (CloudWatch Logs only) is enough; ``vpc``: why it
    runs outside a VPC; ``concurrency``: why no reserved concurrency (``None`` for a function that has
    one); ``dead_letter_queue``: why no DLQ;
    ``inline_policy``: why CDK's inline grants; ``runtime``: why not the newest runtime, if it is not.
    """
    return {
        **managed_policy("service-role/AWSLambdaBasicExecutionRole", logs),
        **({"AwsSolutions-L1": runtime} if runtime is not None else {}),
        **compliance_rule("LambdaInsideVPC", vpc),
        **(compliance_rule("LambdaConcurrency", concurrency) if concurrency is not None else {}),
        **compliance_rule("LambdaDLQ", dead_letter_queue),
        **compliance_rule("IAMNoInlinePolicy", inline_policy),
    }


def managed_policy(policy: str, reason: str) -> Reasons:
    """Name an AWS-managed policy (``service-role/NAME``) attached to a role."""
    return {f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]": reason}


def wildcard_actions(actions: Iterable[str], reason: str) -> Reasons:
    """Name wildcard actions (``s3:GetObject*``) of a policy, all for the same reason."""
    return {f"AwsSolutions-IAM5[Action::{action}]": reason for action in actions}


def wildcard_resources(resources: Iterable[str], reason: str) -> Reasons:
    """Name wildcard resources (``*``, ``<Bucket.Arn>/*``) of a policy, all for the same reason."""
    return {f"AwsSolutions-IAM5[Resource::{resource}]": reason for resource in resources}


def logical_id(construct: IConstruct) -> str:
    """CloudFormation logical id of a construct's resource, as nag findings quote it (``<Id.Arn>``)."""
    resource = construct.node.default_child or construct
    return Stack.of(construct).get_logical_id(resource)  # type: ignore[arg-type]


def region_account_arn(service: str, scope: IConstruct) -> str:
    """ARN prefix of ``service`` in the region and account of ``scope``'s stack, as nag findings spell it.

    A pseudo parameter is spelled ``<AWS::Region>``, but an environment that names its region (or account)
    has it written out, and its partition too.
    """
    return f"arn:{partition(scope)}:{service}:{_spelled(Stack.of(scope).region, 'Region')}:" + _spelled(
        Stack.of(scope).account, "AccountId"
    )


def partition(scope: IConstruct) -> str:
    """Return the partition of ``scope``'s stack as nag spells it: a literal once the region is known."""
    return _spelled(Stack.of(scope).partition, "Partition")


def _spelled(value: str, pseudo_parameter: str) -> str:
    return f"<AWS::{pseudo_parameter}>" if Token.is_unresolved(value) else value
