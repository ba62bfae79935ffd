"""cdk-nag v3 rule packs checked on every synth: AWS Solutions, NIST 800-53 rev 5 and HIPAA Security.

A finding fails synthesis unless it is acknowledged with ``Validations.of(construct).acknowledge(...)`` next
to the construct it concerns, with a reason specific to that construct.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks
from constructs import IConstruct


def nag_packs() -> list[NagPack]:
    """Fresh instances of every rule pack this project must pass."""
    return [AwsSolutionsChecks(), NIST80053R5Checks(), HIPAASecurityChecks()]


def add_nag_validation(app: IConstruct) -> None:
    """Register the rule packs as policy-validation plugins so any unacknowledged finding fails synth."""
    Validations.of(app).add_plugins(*nag_packs())


def acknowledge(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge findings on ``construct`` and its children, one specific reason per rule or finding id."""
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=why) for rule, why in reasons.items())
    )


def compliance_rule(rule: str, reason: str) -> dict[str, str]:
    """Name the same rule as both compliance packs do (NIST 800-53 rev 5 and HIPAA Security)."""
    return {f"NIST.800.53.R5-{rule}": reason, f"HIPAA.Security-{rule}": reason}


def logical_id(construct: IConstruct) -> str:
    """CloudFormation logical id of a construct's resource, as nag findings quote it (``<Id.Arn>``)."""
    resource = construct.node.default_child or construct
    return Stack.of(construct).get_logical_id(resource)  # type: ignore[arg-type]
