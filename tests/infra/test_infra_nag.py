"""cdk-nag v3 (AwsSolutions, NIST 800-53 R5, HIPAA): no unacknowledged finding, no stale acknowledgment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks import nag
from stacks.nag import nag_packs
from tests.infra.infra_support import WEIGHTS_ENV, Synthesized, synthesize

pytestmark = pytest.mark.infra


def findings(scope: Any) -> list[str]:
    """Every unacknowledged finding under ``scope`` as ``rule at construct path``."""
    found = []
    for pack in nag_packs():
        for violation in pack.validate_scope(scope).violations:
            found += [f"{violation.rule_name} at {r.construct_path}" for r in violation.violating_resources]
    return sorted(found)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_no_unacknowledged_findings(synthesized: Synthesized, environment: str) -> None:
    stack = synthesized.app.node.find_child(f"SageMakerAgent-{environment}")
    assert findings(stack) == []


class RecordingValidations:
    """Replaces ``Validations`` in ``stacks.nag``: records acknowledgments instead of applying them."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str]] = []

    def of(self, construct: Any) -> RecordingValidations:
        self.path = construct.node.path
        return self

    def acknowledge(self, *rules: Any) -> None:
        self.recorded.extend((self.path, rule.id) for rule in rules)


def test_every_acknowledgment_silences_a_real_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validations = RecordingValidations()
    monkeypatch.setattr(nag, "Validations", validations)
    unacknowledged = synthesize(tmp_path).app
    recorded = validations.recorded
    raw = []
    for pack in nag_packs():
        for violation in pack.validate_scope(unacknowledged).violations:
            raw += [(r.construct_path, violation.rule_name) for r in violation.violating_resources]
    stale = [
        (path, rule)
        for path, rule in recorded
        if not any(rule == found and (where == path or where.startswith(f"{path}/")) for where, found in raw)
    ]
    assert recorded
    assert stale == [], "\n".join(map(str, stale))


def test_synth_fails_when_a_new_finding_appears(tmp_path: Path) -> None:
    from aws_cdk import App
    from aws_cdk import aws_sqs as sqs

    from app import build_app
    from tests.infra.infra_support import cdk_context

    app = App(context={**cdk_context(), "env": "dev", "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    (stack,) = build_app(app)
    sqs.Queue(stack, "UnencryptedQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS3"):
        app.synth()


def test_s3_weights_variant_has_no_unacknowledged_findings(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, env="weights", environments={"weights": WEIGHTS_ENV})
    assert findings(synthesized.app) == []


def test_one_finding_acknowledged_for_two_different_reasons_is_refused() -> None:
    from aws_cdk import App

    with pytest.raises(ValueError, match="AwsSolutions-IAM5\\[Resource::\\*\\] is acknowledged twice"):
        nag.acknowledge(
            App(),
            nag.wildcard_resources(["*"], "X-Ray has no resource-level permissions."),
            nag.wildcard_resources(["*"], "ECR authorization tokens have no resource-level permissions."),
        )
