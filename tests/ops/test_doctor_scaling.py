"""Did scale-in and scale-out happen when the alarms said so? The doctor's scaling checks, on Stubber."""

from __future__ import annotations

from typing import Any

import pytest

from ops.doctor.findings import Finding, Status
from ops.doctor.scaling import Push, check_scaling, push
from ops.doctor.stack import ScalableTarget
from ops.environment import load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import (
    COMPONENT,
    COMPONENT_TARGET,
    IDLE_ALARM,
    WAKE_ALARM,
    action_runs,
    activities,
    activity,
    ago,
    alarm,
    alarms,
    component,
    history,
    policies,
    scalable_target,
    step_policy,
    tracking_policy,
)

TARGET = ScalableTarget(COMPONENT_TARGET, "sagemaker:inference-component:DesiredCopyCount", "sagemaker")
KEYS = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": COMPONENT_TARGET,
    "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
}
TO_ZERO = step_policy("ScaleInToZero", (IDLE_ALARM,), (0,))
# What Application Auto Scaling answers an alarm whose metric value fits none of the policy's steps.
NO_STEP = "No step adjustment found for metric value [] and breach threshold 0.0"
FROM_ZERO = step_policy("ScaleOutFromZero", (WAKE_ALARM,), (1,))


def script(
    stubbed: Stubbed,
    *,
    desired: int = 1,
    target: dict[str, Any] | None = None,
    scaling_activities: tuple[dict[str, Any], ...] = (),
    scaling_policies: tuple[dict[str, Any], ...] = (TO_ZERO, FROM_ZERO),
    alarm_items: tuple[dict[str, Any], ...] = (),
    histories: tuple[dict[str, Any], ...] = (),
) -> None:
    """Script check_scaling's calls, in the order it makes them."""
    scaling = stubbed.stub["autoscaling"]
    scaling.add_response(
        "describe_scalable_targets",
        target or scalable_target(),
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": [COMPONENT_TARGET],
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        },
    )
    stubbed.stub["sagemaker"].add_response(
        "describe_inference_component",
        component(current=desired, desired=desired),
        {"InferenceComponentName": COMPONENT},
    )
    scaling.add_response(
        "describe_scaling_activities",
        activities(*scaling_activities),
        {**KEYS, "IncludeNotScaledActivities": True, "MaxResults": 50},
    )
    scaling.add_response("describe_scaling_policies", policies(*scaling_policies), KEYS)
    if alarm_items or any(p.get("Alarms") for p in scaling_policies):
        stubbed.stub["cloudwatch"].add_response("describe_alarms", alarms(*alarm_items))
    for answer in histories:
        stubbed.stub["cloudwatch"].add_response("describe_alarm_history", answer)


def run(stubbed: Stubbed) -> list[Finding]:
    return list(check_scaling(stubbed.account, load_environment("dev"), TARGET))


def by_subject(findings: list[Finding], start: str) -> Finding:
    (found,) = [f for f in findings if f.subject.startswith(start)]
    return found


# --- the scale-in that did not happen -----------------------------------------------------------------------


def test_an_idle_alarm_in_alarm_with_no_scale_in_after_it_is_a_failure_saying_so(stubbed: Stubbed) -> None:
    idle = alarm(
        IDLE_ALARM, "ALARM", ago(minutes=40), (TO_ZERO["PolicyARN"],), description="no request for 30 minutes"
    )
    script(
        stubbed,
        desired=1,
        alarm_items=(idle, alarm(WAKE_ALARM, actions=(FROM_ZERO["PolicyARN"],))),
        histories=(
            history((ago(hours=3), "ALARM", "OK"), (ago(minutes=40), "OK", "ALARM")),
            action_runs((ago(minutes=39), f"Failed to execute action {TO_ZERO['PolicyARN']}", NO_STEP)),
            history(),
        ),
    )
    found = by_subject(run(stubbed), f"scale-in alarm {IDLE_ALARM}")
    assert found.status is Status.FAIL
    assert found.summary == (
        "in ALARM since 2026-05-04 11:20 UTC (40 min; no request for 30 minutes) but no scale-in activity "
        "followed: 1 copy still wanted, the policy ScaleInToZero would scale in to 0 copies"
    )
    assert found.action is not None and f"--alarm-names {IDLE_ALARM}" in found.action
    assert found.evidence == (
        "2026-05-04 09:00 UTC -> OK",
        "2026-05-04 11:20 UTC -> ALARM",
        f"2026-05-04 11:21 UTC action: Failed to execute action {TO_ZERO['PolicyARN']}: {NO_STEP}",
    )


def test_within_the_policy_cooldown_a_missing_scale_in_is_not_yet_a_problem(stubbed: Stubbed) -> None:
    idle = alarm(IDLE_ALARM, "ALARM", ago(minutes=3), (TO_ZERO["PolicyARN"],))
    script(stubbed, alarm_items=(idle, alarm(WAKE_ALARM)), histories=(history(), history()))
    found = by_subject(run(stubbed), f"scale-in alarm {IDLE_ALARM}")
    assert found.status is Status.OK
    assert found.summary == "in ALARM for 3 min; the scale-in to 0 copies is due within its policy's cooldown"


def test_a_scale_in_caused_by_the_alarm_after_it_fired_is_what_should_happen(stubbed: Stubbed) -> None:
    idle = alarm(IDLE_ALARM, "ALARM", ago(minutes=40), (TO_ZERO["PolicyARN"],))
    done = activity(ago(minutes=39), "Setting desired copy count to 0.", "InProgress", IDLE_ALARM)
    script(
        stubbed,
        scaling_activities=(done,),
        alarm_items=(idle, alarm(WAKE_ALARM)),
        histories=(history((ago(minutes=40), "OK", "ALARM")), history()),
    )
    findings = run(stubbed)
    found = by_subject(findings, f"scale-in alarm {IDLE_ALARM}")
    assert found.status is Status.OK
    assert "caused 1 scaling activity" in found.summary and found.summary.endswith("is under way")
    assert "2026-05-04 11:21 UTC InProgress: Setting desired copy count to 0. (alarm " + IDLE_ALARM + ")" in (
        found.evidence
    )


def test_at_the_capacity_the_policy_sets_an_alarm_in_alarm_asks_for_nothing(stubbed: Stubbed) -> None:
    # Scaled to zero: the idle alarm stays in ALARM, and its policy has nothing left to do.
    idle = alarm(IDLE_ALARM, "ALARM", ago(hours=6), (TO_ZERO["PolicyARN"],))
    script(stubbed, desired=0, alarm_items=(idle, alarm(WAKE_ALARM)), histories=(history(), history()))
    assert by_subject(run(stubbed), f"scale-in alarm {IDLE_ALARM}").status is Status.OK


def test_a_decision_not_to_scale_is_reported_with_application_auto_scalings_reason(stubbed: Stubbed) -> None:
    idle = alarm(IDLE_ALARM, "ALARM", ago(minutes=40), (TO_ZERO["PolicyARN"],))
    refused = activity(
        ago(minutes=39),
        "Attempting to scale due to alarm triggered",
        "Failed",
        IDLE_ALARM,
        not_scaled=("AlreadyAtMinCapacity",),
    )
    script(
        stubbed,
        scaling_activities=(refused,),
        alarm_items=(idle, alarm(WAKE_ALARM)),
        histories=(history(), history()),
    )
    findings = run(stubbed)
    found = by_subject(findings, f"scale-in alarm {IDLE_ALARM}")
    assert found.status is Status.WARN
    assert found.summary.endswith(
        "Application Auto Scaling decided not to scale in to 0 copies (AlreadyAtMinCapacity)"
    )
    # A decision not to scale is no failure of the target.
    assert by_subject(findings, "scaling of").status is Status.OK


def test_a_failed_scale_out_after_the_wake_alarm_is_a_failure_with_the_message(stubbed: Stubbed) -> None:
    wake = alarm(WAKE_ALARM, "ALARM", ago(minutes=20), (FROM_ZERO["PolicyARN"],))
    failed = activity(
        ago(minutes=19),
        "Setting desired copy count to 1.",
        "Failed",
        WAKE_ALARM,
        message="Insufficient capacity for ml.g6.12xlarge",
    )
    script(
        stubbed,
        desired=0,
        scaling_activities=(failed,),
        alarm_items=(alarm(IDLE_ALARM), wake),
        histories=(history(), history((ago(minutes=20), "OK", "ALARM"))),
    )
    findings = run(stubbed)
    found = by_subject(findings, f"scale-out alarm {WAKE_ALARM}")
    assert found.status is Status.FAIL
    assert (
        found.summary
        == "in ALARM for 20 min; the scale-out to 1 copy failed: Insufficient capacity for ml.g6.12xlarge"
    )
    target = by_subject(findings, "scaling of")
    assert target.status is Status.FAIL
    assert target.summary.endswith("the last one Failed: Insufficient capacity for ml.g6.12xlarge")


def test_an_alarm_whose_actions_are_disabled_never_scales(stubbed: Stubbed) -> None:
    wake = alarm(WAKE_ALARM, "ALARM", ago(minutes=20), (FROM_ZERO["PolicyARN"],), enabled=False)
    script(stubbed, desired=0, alarm_items=(alarm(IDLE_ALARM), wake), histories=(history(), history()))
    found = by_subject(run(stubbed), f"scale-out alarm {WAKE_ALARM}")
    assert found.status is Status.FAIL
    assert found.action == f"aws cloudwatch enable-alarm-actions --alarm-names {WAKE_ALARM}"


def test_target_tracking_alarms_are_read_from_the_policy_and_judged_by_their_comparison(
    stubbed: Stubbed,
) -> None:
    high, low = (
        "TargetTracking-inference-component-AlarmHigh-1",
        "TargetTracking-inference-component-AlarmLow-2",
    )
    tracking = tracking_policy("ConcurrentRequests", (high, low))
    script(
        stubbed,
        desired=1,
        target=scalable_target(0, 3),
        scaling_policies=(tracking,),
        alarm_items=(
            alarm(high, "ALARM", ago(minutes=30), (tracking["PolicyARN"],), operator="GreaterThanThreshold"),
            alarm(low, "OK", ago(hours=1), (tracking["PolicyARN"],), operator="LessThanThreshold"),
        ),
        histories=(history((ago(minutes=30), "OK", "ALARM")), action_runs(), history()),
    )
    findings = run(stubbed)
    out = by_subject(findings, f"scale-out alarm {high}")
    assert out.status is Status.FAIL
    assert "no scale-out activity followed: 1 copy still wanted" in out.summary
    assert "would scale out to 3 copies" in out.summary
    assert by_subject(findings, f"scale-in alarm {low}").status is Status.OK


# --- the target itself --------------------------------------------------------------------------------------


def test_the_target_lists_its_newest_activities_in_plain_words(stubbed: Stubbed) -> None:
    script(
        stubbed,
        scaling_activities=(
            activity(ago(hours=1), "Setting desired copy count to 1.", alarm_name=WAKE_ALARM),
            activity(
                ago(hours=3),
                "Attempting to scale",
                "Failed",
                IDLE_ALARM,
                not_scaled=("AlreadyAtDesiredCapacity",),
            ),
            activity(ago(hours=30), "outside the window"),
        ),
        alarm_items=(alarm(IDLE_ALARM), alarm(WAKE_ALARM)),
        histories=(history(), history()),
    )
    found = by_subject(run(stubbed), "scaling of")
    assert found.status is Status.OK
    assert found.summary == "1 copy wanted, 0-1 allowed; 2 activities in the last 24 h"
    assert found.evidence == (
        f"2026-05-04 11:00 UTC Successful: Setting desired copy count to 1. (alarm {WAKE_ALARM})",
        f"2026-05-04 09:00 UTC not scaled (AlreadyAtDesiredCapacity) (alarm {IDLE_ALARM})",
    )


def test_a_suspended_target_does_not_scale(stubbed: Stubbed) -> None:
    script(
        stubbed,
        target=scalable_target(
            suspended={"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": False}
        ),
        alarm_items=(alarm(IDLE_ALARM), alarm(WAKE_ALARM)),
        histories=(history(), history()),
    )
    found = by_subject(run(stubbed), "scaling of")
    assert found.status is Status.FAIL
    assert "suspended: DynamicScalingInSuspended" in found.summary
    assert found.action is not None and "DynamicScalingInSuspended=false" in found.action


def test_an_unregistered_target_is_a_failure_and_nothing_else_is_read(stubbed: Stubbed) -> None:
    stubbed.stub["autoscaling"].add_response("describe_scalable_targets", {"ScalableTargets": []})
    (found,) = run(stubbed)
    assert (found.status, found.summary) == (
        Status.FAIL,
        "not registered with Application Auto Scaling: nothing scales it",
    )


def test_a_policy_without_an_alarm_never_acts(stubbed: Stubbed) -> None:
    script(stubbed, scaling_policies=(step_policy("Orphan", (), (1,)),))
    found = by_subject(run(stubbed), "scaling policy Orphan")
    assert (found.status, found.summary) == (Status.WARN, "no alarm drives it, so it never acts")


def test_a_policy_whose_alarm_is_gone_is_a_failure(stubbed: Stubbed) -> None:
    script(stubbed, scaling_policies=(TO_ZERO,), alarm_items=())
    found = by_subject(run(stubbed), f"alarm {IDLE_ALARM}")
    assert found.status is Status.FAIL
    assert found.summary == "policy ScaleInToZero is driven by it, but it does not exist"


# --- where a policy takes the capacity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "operator", "expected"),
    [
        (step_policy("p", ("a",), (0,)), "LessThanOrEqualToThreshold", (0, "scale-in", 60)),
        (step_policy("p", ("a",), (1,)), "GreaterThanOrEqualToThreshold", (1, "scale-out", 60)),
        (
            step_policy("p", ("a",), (7,)),
            "GreaterThanOrEqualToThreshold",
            (4, "scale-out", 60),
        ),  # the maximum
        (
            step_policy("p", ("a",), (1,), "ChangeInCapacity", 120),
            "GreaterThanThreshold",
            (4, "scale-out", 120),
        ),
        (step_policy("p", ("a",), (-1,), "ChangeInCapacity"), "LessThanThreshold", (0, "scale-in", 60)),
        (tracking_policy("p", ("a",)), "GreaterThanThreshold", (4, "scale-out", 300)),
        (tracking_policy("p", ("a",)), "LessThanThreshold", (0, "scale-in", 900)),
    ],
)
def test_push_reads_where_each_kind_of_policy_takes_the_capacity(
    policy: dict[str, Any], operator: str, expected: tuple[int, str, int]
) -> None:
    moves = push(policy, alarm("a", operator=operator), scalable_target(0, 4)["ScalableTargets"][0])
    assert moves is not None
    assert (moves.goal, moves.word, int(moves.cooldown.total_seconds())) == expected


def test_push_cannot_tell_for_mixed_steps_or_an_unknown_comparison() -> None:
    registration = scalable_target(0, 4)["ScalableTargets"][0]
    mixed = step_policy("p", ("a",), (-1, 1), "ChangeInCapacity")
    assert push(mixed, alarm("a"), registration) is None
    band = alarm("a", operator="LessThanLowerOrGreaterThanUpperThreshold")
    assert push(tracking_policy("p", ("a",)), band, registration) is None
    assert isinstance(push(step_policy("p", ("a",), (2,)), alarm("a"), registration), Push)


def test_an_exact_capacity_below_the_wanted_one_is_named_a_scale_in_whatever_the_policy_is_for(
    stubbed: Stubbed,
) -> None:
    # The wake policy sets exactly one copy: at two copies, what it would do is remove one.
    wake = alarm(WAKE_ALARM, "ALARM", ago(minutes=30), (FROM_ZERO["PolicyARN"],))
    script(
        stubbed,
        desired=2,
        target=scalable_target(0, 2),
        alarm_items=(alarm(IDLE_ALARM), wake),
        histories=(history(), history(), action_runs()),
    )
    found = by_subject(run(stubbed), f"scale-out alarm {WAKE_ALARM}")
    assert found.status is Status.FAIL
    assert "no scale-in activity followed: 2 copies still wanted" in found.summary
    assert found.summary.endswith("the policy ScaleOutFromZero would scale in to 1 copy")
