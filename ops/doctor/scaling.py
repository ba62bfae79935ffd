"""Autoscaling: each scalable target of the stack, its policies and their alarms, and what happened.

Nothing here knows the stack's policies by name. DescribeScalingPolicies lists every policy of a target with
the alarms that drive it (target tracking's own alarms included), so the doctor judges whatever is attached:

- a policy's alarm in ALARM means the policy wants the capacity somewhere (target tracking: towards the
  maximum when its alarm fires on high values, towards the minimum on low ones; a step policy: its exact
  capacity, or towards the bound its adjustments point at);
- Application Auto Scaling records each scaling activity with its cause, "monitor alarm <name> in state
  ALARM triggered policy <name>", and, asked to, the times it decided not to scale with the reason
  (Application Auto Scaling User Guide, "Scaling activities for Application Auto Scaling");
- so an alarm in ALARM for longer than its policy's cooldown, with the capacity not where the policy takes
  it and no activity caused by it since, is a scale-in or scale-out that did not happen.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from ops.doctor.account import Account
from ops.doctor.findings import Finding, Status, duration, plural, when
from ops.doctor.stack import ScalableTarget
from stacks.config import EnvironmentConfig

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling.literals import ScalableDimensionType, ServiceNamespaceType
    from mypy_boto3_application_autoscaling.type_defs import (
        ScalableTargetTypeDef,
        ScalingActivityTypeDef,
        ScalingPolicyTypeDef,
    )
    from mypy_boto3_cloudwatch.type_defs import MetricAlarmTypeDef

# Time for an alarm action to reach Application Auto Scaling and for an activity to be recorded, on top of
# the policy's cooldown.
_GRACE = timedelta(minutes=5)
# The cooldown when a policy sets none: "If not specified, the default value is 300" (CloudFormation User
# Guide, ScalingPolicy StepScalingPolicyConfiguration.Cooldown; target tracking's cooldowns alike).
_DEFAULT_COOLDOWN_SECONDS = 300
_ACTIVITY_PAGES = 3  # 50 activities a page, newest first
_ACTIVITIES_SHOWN = 5
_CHANGES_SHOWN = 6
_CAUSE_ALARM = re.compile(r"monitor alarm (?P<alarm>.+?) in state ALARM")
# The SageMaker resource ids Application Auto Scaling scales (API Reference, RegisterScalableTarget).
ENDPOINT_VARIANT = re.compile(r"endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)")
COMPONENT_PREFIX = "inference-component/"
# Target tracking's alarms: the one firing on high values scales out, the one on low values scales in.
_ABOVE = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "GreaterThanUpperThreshold"}
_BELOW = {"LessThanThreshold", "LessThanOrEqualToThreshold", "LessThanLowerThreshold"}
_UNITS = {
    "sagemaker:inference-component:DesiredCopyCount": ("copy", "copies"),
    "sagemaker:variant:DesiredInstanceCount": ("instance", "instances"),
}


@dataclass(frozen=True)
class Push:
    """Where a policy takes the capacity when its alarm is in ALARM, and what that is called."""

    goal: int
    word: str  # "scale-in" or "scale-out": what the policy is for
    cooldown: timedelta
    exact: bool = False  # sets the capacity to ``goal`` from either side

    def towards(self, desired: int) -> str:
        """Name the move from ``desired`` to the goal (an exact capacity may scale either way)."""
        if not self.exact:
            return self.word
        return "scale-in" if self.goal < desired else "scale-out"


def check_scaling(account: Account, config: EnvironmentConfig, target: ScalableTarget) -> Iterator[Finding]:
    """Check the target's registration and recent activities, then each of its policies' alarms."""
    autoscaling = account.clients.autoscaling
    units = _UNITS.get(target.dimension, ("unit", "units"))
    subject = f"scaling of {target.resource_id}"
    registered = autoscaling.describe_scalable_targets(
        ServiceNamespace=_namespace(target),
        ResourceIds=[target.resource_id],
        ScalableDimension=_dimension(target),
    )["ScalableTargets"]
    if not registered:
        yield Finding(
            Status.FAIL,
            subject,
            "not registered with Application Auto Scaling: nothing scales it",
            f"cdk deploy -c env={config.name} to register it again",
        )
        return
    registration = registered[0]
    desired = _desired(account, target)
    activities = _activities(account, target)
    yield _target_finding(account, config, target, registration, desired, activities, units)
    policies = [
        policy
        for page in autoscaling.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=_namespace(target),
            ResourceId=target.resource_id,
            ScalableDimension=_dimension(target),
        )
        for policy in page["ScalingPolicies"]
    ]
    alarms = account.alarms(alarm["AlarmName"] for policy in policies for alarm in policy.get("Alarms", []))
    for policy in policies:
        if not policy.get("Alarms"):
            yield Finding(
                Status.WARN,
                f"scaling policy {policy['PolicyName']}",
                "no alarm drives it, so it never acts",
                f"cdk deploy -c env={config.name} to attach its alarm again",
            )
        for attached in policy.get("Alarms", []):
            yield _alarm_finding(
                account,
                config,
                registration,
                policy,
                alarms.get(attached["AlarmName"]),
                attached["AlarmName"],
                desired,
                activities,
                units,
            )


def _namespace(target: ScalableTarget) -> ServiceNamespaceType:
    """Return the target's namespace as the client's stubs type it (the stack's physical id says which)."""
    return cast("ServiceNamespaceType", target.namespace)


def _dimension(target: ScalableTarget) -> ScalableDimensionType:
    return cast("ScalableDimensionType", target.dimension)


def _desired(account: Account, target: ScalableTarget) -> int | None:
    """Return the target's desired capacity now, from the component or endpoint variant it scales."""
    try:
        if target.resource_id.startswith(COMPONENT_PREFIX):
            component = account.component(target.resource_id.removeprefix(COMPONENT_PREFIX))
            return component.get("RuntimeConfig", {}).get("DesiredCopyCount")
        match = ENDPOINT_VARIANT.fullmatch(target.resource_id)
        if match is not None:
            for variant in account.endpoint(match["endpoint"]).get("ProductionVariants", []):
                if variant["VariantName"] == match["variant"]:
                    return variant.get("DesiredInstanceCount")
    except ClientError:
        return None  # the endpoint or component check reports why it cannot be read
    return None


def _activities(account: Account, target: ScalableTarget) -> list[ScalingActivityTypeDef]:
    """Return the target's activities in the window, newest first, not-scaled decisions included."""
    pages = account.clients.autoscaling.get_paginator("describe_scaling_activities").paginate(
        ServiceNamespace=_namespace(target),
        ResourceId=target.resource_id,
        ScalableDimension=_dimension(target),
        IncludeNotScaledActivities=True,
        PaginationConfig={"MaxItems": 50 * _ACTIVITY_PAGES, "PageSize": 50},
    )
    activities = [a for page in pages for a in page["ScalingActivities"] if a["StartTime"] >= account.since]
    return sorted(activities, key=lambda activity: activity["StartTime"], reverse=True)


def _not_scaled(activity: ScalingActivityTypeDef) -> bool:
    """Tell a decision not to scale (reported as Failed, with NotScaledReasons) from a failure."""
    return bool(activity.get("NotScaledReasons"))


def _failed(activity: ScalingActivityTypeDef) -> bool:
    return activity["StatusCode"] in {"Failed", "Unfulfilled"} and not _not_scaled(activity)


def _line(activity: ScalingActivityTypeDef) -> str:
    """One activity in a line: when, outcome, what, and which alarm caused it."""
    cause = _CAUSE_ALARM.search(activity.get("Cause", ""))
    why = (
        f" (alarm {cause['alarm']})" if cause else f" ({activity['Cause']})" if activity.get("Cause") else ""
    )
    if _not_scaled(activity):
        codes = ", ".join(reason["Code"] for reason in activity.get("NotScaledReasons", []))
        return f"{when(activity['StartTime'])} not scaled ({codes}){why}"
    message = f": {activity['StatusMessage']}" if _failed(activity) and activity.get("StatusMessage") else ""
    return f"{when(activity['StartTime'])} {activity['StatusCode']}: {activity['Description']}{why}{message}"


def _target_finding(
    account: Account,
    config: EnvironmentConfig,
    target: ScalableTarget,
    registration: ScalableTargetTypeDef,
    desired: int | None,
    activities: Sequence[ScalingActivityTypeDef],
    units: tuple[str, str],
) -> Finding:
    subject = f"scaling of {target.resource_id}"
    low, high = registration["MinCapacity"], registration["MaxCapacity"]
    now = "unknown" if desired is None else plural(desired, *units)
    window = duration(account.window)
    done = plural(len(activities), "activity", "activities")
    summary = f"{now} wanted, {low}-{high} allowed; {done} in the last {window}"
    evidence = tuple(_line(activity) for activity in activities[:_ACTIVITIES_SHOWN])
    suspended = [name for name, on in registration.get("SuspendedState", {}).items() if on]
    if suspended:
        return Finding(
            Status.FAIL,
            subject,
            f"{summary}; suspended: {', '.join(suspended)}, so it does not scale",
            f"aws application-autoscaling register-scalable-target --service-namespace {target.namespace} "
            f"--resource-id {target.resource_id} --scalable-dimension {target.dimension} --suspended-state "
            "DynamicScalingInSuspended=false,DynamicScalingOutSuspended=false,ScheduledScalingSuspended=false",
            evidence,
        )
    scaled = [activity for activity in activities if not _not_scaled(activity)]
    if scaled and _failed(scaled[0]):
        last = scaled[0]
        return Finding(
            Status.FAIL,
            subject,
            f"{summary}; the last one {last['StatusCode']}: {last.get('StatusMessage', 'no message')}",
            f"act on the message; for capacity or quota, make preflight ENV={config.name} checks the "
            f"{config.endpoint.instance_type} quota",
            evidence,
        )
    failures = [activity for activity in scaled if _failed(activity)]
    if failures:
        return Finding(
            Status.WARN,
            subject,
            f"{summary}; {len(failures)} failed, the newest at {when(failures[0]['StartTime'])}, though a "
            "later one succeeded",
            "nothing now; if it happens again, act on the failed activity's message",
            evidence,
        )
    return Finding(Status.OK, subject, summary, evidence=evidence)


def push(
    policy: ScalingPolicyTypeDef, alarm: MetricAlarmTypeDef, registration: ScalableTargetTypeDef
) -> Push | None:
    """Where the policy takes the capacity while this alarm is in ALARM (``None``: cannot tell)."""
    low, high = registration["MinCapacity"], registration["MaxCapacity"]
    if policy["PolicyType"] == "TargetTrackingScaling":
        tracking = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        operator = alarm.get("ComparisonOperator", "")
        if operator in _ABOVE:
            cooldown = tracking.get("ScaleOutCooldown", _DEFAULT_COOLDOWN_SECONDS)
            return Push(high, "scale-out", timedelta(seconds=cooldown))
        if operator in _BELOW:
            cooldown = tracking.get("ScaleInCooldown", _DEFAULT_COOLDOWN_SECONDS)
            return Push(low, "scale-in", timedelta(seconds=cooldown))
        return None
    if policy["PolicyType"] != "StepScaling":
        return None
    steps = policy.get("StepScalingPolicyConfiguration", {})
    adjustments = [step["ScalingAdjustment"] for step in steps.get("StepAdjustments", [])]
    step_cooldown = timedelta(seconds=steps.get("Cooldown", _DEFAULT_COOLDOWN_SECONDS))
    if not adjustments:
        return None
    if steps.get("AdjustmentType") == "ExactCapacity":
        if len(set(adjustments)) != 1:
            return None
        goal = min(max(adjustments[0], low), high)
        return Push(
            goal, "scale-in" if goal == low and low < high else "scale-out", step_cooldown, exact=True
        )
    if all(adjustment > 0 for adjustment in adjustments):
        return Push(high, "scale-out", step_cooldown)
    if all(adjustment < 0 for adjustment in adjustments):
        return Push(low, "scale-in", step_cooldown)
    return None


def _caused_by(activity: ScalingActivityTypeDef, alarm_name: str) -> bool:
    cause = _CAUSE_ALARM.search(activity.get("Cause", ""))
    return cause is not None and cause["alarm"] == alarm_name


def _alarm_finding(
    account: Account,
    config: EnvironmentConfig,
    registration: ScalableTargetTypeDef,
    policy: ScalingPolicyTypeDef,
    alarm: MetricAlarmTypeDef | None,
    alarm_name: str,
    desired: int | None,
    activities: Sequence[ScalingActivityTypeDef],
    units: tuple[str, str],
) -> Finding:
    """Judge whether this alarm's policy did what it should: did a scale-in or scale-out follow it."""
    if alarm is None:
        return Finding(
            Status.FAIL,
            f"alarm {alarm_name}",
            f"policy {policy['PolicyName']} is driven by it, but it does not exist",
            f"cdk deploy -c env={config.name} to create it again",
        )
    moves = push(policy, alarm, registration)
    subject = f"{moves.word if moves else 'scaling'} alarm {alarm_name}"
    caused = [activity for activity in activities if _caused_by(activity, alarm_name)]
    changes = account.state_changes(alarm_name)
    fired = sum(1 for change in changes if change.state == "ALARM")
    evidence = (
        *(f"{when(change.at)} -> {change.state}" for change in changes[-_CHANGES_SHOWN:]),
        *(_line(activity) for activity in caused[:_ACTIVITIES_SHOWN]),
    )
    state = alarm["StateValue"]
    entered = alarm.get("StateTransitionedTimestamp") or alarm["StateUpdatedTimestamp"]
    window = duration(account.window)
    history = (
        f"went to ALARM {plural(fired, 'time')} in the last {window}"
        if fired
        else f"not in ALARM in the last {window}"
    )
    if caused:
        history += f", which caused {plural(len(caused), 'scaling activity', 'scaling activities')}"
    summary = f"{state} since {when(entered)}; {history}"
    if state != "ALARM" or moves is None or desired is None or desired == moves.goal:
        return Finding(Status.OK, subject, summary, evidence=evidence)
    since_entered = [activity for activity in caused if activity["StartTime"] >= entered - _GRACE]
    judged = _judge(account, config, policy, alarm, moves, entered, desired, units, since_entered)
    if judged is None:
        return Finding(
            Status.OK, subject, f"{summary}; the {moves.towards(desired)} is under way", evidence=evidence
        )
    return dataclasses.replace(judged, subject=subject, evidence=evidence + judged.evidence)


def _judge(
    account: Account,
    config: EnvironmentConfig,
    policy: ScalingPolicyTypeDef,
    alarm: MetricAlarmTypeDef,
    moves: Push,
    entered: datetime,
    desired: int,
    units: tuple[str, str],
    since_entered: Sequence[ScalingActivityTypeDef],
) -> Finding | None:
    """Judge an alarm in ALARM whose policy would still move the capacity (``None``: it is moving it).

    The finding's subject is left for the caller to fill in.
    """
    waited = account.now - entered
    goal = plural(moves.goal, *units)
    noun = moves.towards(desired)
    verb = noun.replace("-", " ")
    still = f"{plural(desired, *units)} still wanted"
    if not alarm.get("ActionsEnabled", True):
        return Finding(
            Status.FAIL,
            "",
            f"in ALARM for {duration(waited)}, but its actions are disabled, so no {noun} follows ({still})",
            f"aws cloudwatch enable-alarm-actions --alarm-names {alarm['AlarmName']}",
        )
    if since_entered:
        newest = since_entered[0]
        if _failed(newest):
            return Finding(
                Status.FAIL,
                "",
                f"in ALARM for {duration(waited)}; the {noun} to {goal} failed: "
                f"{newest.get('StatusMessage', 'no message')}",
                f"act on the message; make preflight ENV={config.name} checks the instance quota",
            )
        if _not_scaled(newest):
            codes = ", ".join(reason["Code"] for reason in newest.get("NotScaledReasons", []))
            return Finding(
                Status.WARN,
                "",
                f"in ALARM for {duration(waited)}; Application Auto Scaling decided not to {verb} to {goal} "
                f"({codes})",
                "nothing if the capacity is where it should be; else compare the target's minimum and "
                "maximum with cdk.json and deploy",
            )
        return None
    if waited <= moves.cooldown + _GRACE:
        return Finding(
            Status.OK,
            "",
            f"in ALARM for {duration(waited)}; the {noun} to {goal} is due within its policy's cooldown",
        )
    runs = account.action_runs(alarm["AlarmName"])
    description = alarm.get("AlarmDescription", "no description")
    return Finding(
        Status.FAIL,
        "",
        f"in ALARM since {when(entered)} ({duration(waited)}; {description}) but no {noun} activity "
        f"followed: {still}, the policy {policy['PolicyName']} would {verb} to {goal}",
        "read why in the alarm's action runs above, if any; check that the alarm's action is the policy (aws "
        f"cloudwatch describe-alarms --alarm-names {alarm['AlarmName']} --query "
        "'MetricAlarms[0].AlarmActions') and that the policy exists (aws application-autoscaling "
        f"describe-scaling-policies --service-namespace {policy['ServiceNamespace']} --resource-id "
        f"{policy['ResourceId']}); cdk deploy -c env={config.name} restores both",
        tuple(
            f"{when(run.at)} action: {run.summary}" + (f": {run.error}" if run.error else "") for run in runs
        ),
    )
