"""AWS answers the doctor's tests script into botocore's Stubber (each checked against the service model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "SageMakerAgent-dev"
ENDPOINT = "SageMakerAgent-dev-g6-12xlarge"
COMPONENT = f"{ENDPOINT}-model"
COMPONENT_TARGET = f"inference-component/{COMPONENT}"
FUNCTION = "SageMakerAgent-dev-AgentApiFunctionE4539545-Ab12Cd34Ef56"
FUNCTION_LOGS = "SageMakerAgent-dev-AgentApiFunctionLogsCEACE7F4-Gh78Ij90"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:SageMakerAgent-dev-MonitoringAlarmTopicAF62D4F1-Kl12Mn34"
IDLE_ALARM = "SageMakerAgent-dev-InferenceIdleAlarm2E0A1580-Op56Qr78"
WAKE_ALARM = "SageMakerAgent-dev-InferenceNoCapacityAlarm51CB639B-St90Uv12"
ERRORS_ALARM = "SageMakerAgent-dev-MonitoringEndpoint5xxE935B541-Wx34Yz56"
DASHBOARD = "MonitoringDashboard0C3675C6-Ab78Cd90"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/x"


def ago(**span: float) -> datetime:
    """A moment before NOW."""
    return NOW - timedelta(**span)


def policy_arn(name: str) -> str:
    return (
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:1a2b:resource/sagemaker/{COMPONENT_TARGET}"
        f":policyName/{name}"
    )


# --- CloudFormation -----------------------------------------------------------------------------------------


def stack(status: str = "UPDATE_COMPLETE", outputs: dict[str, str] | None = None) -> dict[str, Any]:
    """DescribeStacks of the dev stack."""
    if outputs is None:
        outputs = {"EndpointName": ENDPOINT, "InferenceComponentName": COMPONENT}
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": ago(days=3),
                "LastUpdatedTime": ago(hours=2),
                "StackStatus": status,
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


# What ListStackResources reports of a dev stack: (logical id, physical id, type).
DEV_RESOURCES = [
    ("AgentApiFunctionE4539545", FUNCTION, "AWS::Lambda::Function"),
    ("AgentApiFunctionLogsCEACE7F4", FUNCTION_LOGS, "AWS::Logs::LogGroup"),
    (
        "ServingImageStartBuild61A6AAAC",
        "SageMakerAgent-dev-ServingImageStartBuild-1",
        "AWS::Lambda::Function",
    ),
    (
        "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F",
        "auto-delete",
        "AWS::Lambda::Function",
    ),
    ("InferenceIdleAlarm2E0A1580", IDLE_ALARM, "AWS::CloudWatch::Alarm"),
    ("InferenceNoCapacityAlarm51CB639B", WAKE_ALARM, "AWS::CloudWatch::Alarm"),
    ("MonitoringEndpoint5xxE935B541", ERRORS_ALARM, "AWS::CloudWatch::Alarm"),
    ("MonitoringAlarmTopicAF62D4F1", TOPIC, "AWS::SNS::Topic"),
    ("MonitoringDashboard0C3675C6", DASHBOARD, "AWS::CloudWatch::Dashboard"),
    (
        "InferenceScalableTargetCE932105",
        f"{COMPONENT_TARGET}|sagemaker:inference-component:DesiredCopyCount|sagemaker",
        "AWS::ApplicationAutoScaling::ScalableTarget",
    ),
]


def resources(rows: list[tuple[str, str, str]] = DEV_RESOURCES) -> dict[str, Any]:
    """ListStackResources, one page."""
    return {
        "StackResourceSummaries": [
            {
                "LogicalResourceId": logical,
                "PhysicalResourceId": physical,
                "ResourceType": kind,
                "LastUpdatedTimestamp": ago(hours=2),
                "ResourceStatus": "UPDATE_COMPLETE",
            }
            for logical, physical, kind in rows
        ]
    }


def stack_event(
    at: datetime, logical: str, status: str, reason: str, kind: str = "AWS::SageMaker::Endpoint"
) -> dict:
    return {
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1",
        "EventId": f"{logical}-{at.timestamp()}",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": at,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
    }


# --- SageMaker ----------------------------------------------------------------------------------------------


def endpoint(status: str = "InService", current: int = 1, desired: int = 1, **extra: Any) -> dict[str, Any]:
    """DescribeEndpoint with one variant."""
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT.lower()}",
        "EndpointStatus": status,
        "CreationTime": ago(days=3),
        "LastModifiedTime": ago(hours=2),
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "CurrentInstanceCount": current, "DesiredInstanceCount": desired}
        ],
        **extra,
    }


def component(
    status: str = "InService",
    current: int = 1,
    desired: int = 1,
    modified: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """DescribeInferenceComponent."""
    return {
        "InferenceComponentName": COMPONENT,
        "InferenceComponentArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:inference-component/{COMPONENT}",
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT.lower()}",
        "InferenceComponentStatus": status,
        "CreationTime": ago(days=3),
        "LastModifiedTime": modified or ago(hours=2),
        "RuntimeConfig": {"CurrentCopyCount": current, "DesiredCopyCount": desired},
        **extra,
    }


# --- CloudWatch ---------------------------------------------------------------------------------------------


def alarm(
    name: str,
    state: str = "OK",
    entered: datetime | None = None,
    actions: tuple[str, ...] = (TOPIC,),
    *,
    operator: str = "GreaterThanOrEqualToThreshold",
    description: str = "",
    enabled: bool = True,
    reason: str = "Threshold Crossed",
) -> dict[str, Any]:
    """One MetricAlarms item of DescribeAlarms."""
    moment = entered or ago(hours=5)
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "AlarmDescription": description,
        "ActionsEnabled": enabled,
        "AlarmActions": list(actions),
        "StateValue": state,
        "StateReason": reason,
        "StateUpdatedTimestamp": moment,
        "StateTransitionedTimestamp": moment,
        "ComparisonOperator": operator,
        "Threshold": 1.0,
        "EvaluationPeriods": 1,
    }


def alarms(*items: dict[str, Any]) -> dict[str, Any]:
    return {"MetricAlarms": list(items), "CompositeAlarms": []}


def history(*changes: tuple[datetime, str, str]) -> dict[str, Any]:
    """DescribeAlarmHistory StateUpdate items, given oldest first as (when, from, to), sent newest first."""
    return {
        "AlarmHistoryItems": [
            {
                "AlarmName": "x",
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(
                    {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new}}
                ),
            }
            for at, old, new in reversed(changes)
        ]
    }


def action_runs(*runs: tuple[datetime, str, str | None]) -> dict[str, Any]:
    """DescribeAlarmHistory Action items, given oldest first as (when, summary, error), sent newest first."""
    return {
        "AlarmHistoryItems": [
            {
                "AlarmName": "x",
                "Timestamp": at,
                "HistoryItemType": "Action",
                "HistorySummary": summary,
                "HistoryData": json.dumps(
                    {"actionState": "Failed" if error else "Succeeded", **({"error": error} if error else {})}
                ),
            }
            for at, summary, error in reversed(runs)
        ]
    }


# --- Application Auto Scaling -------------------------------------------------------------------------------


def scalable_target(low: int = 0, high: int = 1, suspended: dict[str, bool] | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": COMPONENT_TARGET,
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        "MinCapacity": low,
        "MaxCapacity": high,
        "RoleARN": ROLE,
        "CreationTime": ago(days=3),
    }
    if suspended is not None:
        target["SuspendedState"] = suspended
    return {"ScalableTargets": [target]}


def _policy(name: str, kind: str, alarm_names: tuple[str, ...], **config: Any) -> dict[str, Any]:
    return {
        "PolicyARN": policy_arn(name),
        "PolicyName": name,
        "ServiceNamespace": "sagemaker",
        "ResourceId": COMPONENT_TARGET,
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        "PolicyType": kind,
        "Alarms": [
            {"AlarmName": a, "AlarmARN": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a}"}
            for a in alarm_names
        ],
        "CreationTime": ago(days=3),
        **config,
    }


def step_policy(
    name: str,
    alarm_names: tuple[str, ...],
    adjustments: tuple[int, ...],
    kind: str = "ExactCapacity",
    cooldown: int = 60,
) -> dict[str, Any]:
    steps = [{"ScalingAdjustment": a, "MetricIntervalLowerBound": 0.0} for a in adjustments]
    return _policy(
        name,
        "StepScaling",
        alarm_names,
        StepScalingPolicyConfiguration={
            "AdjustmentType": kind,
            "StepAdjustments": steps,
            "Cooldown": cooldown,
            "MetricAggregationType": "Maximum",
        },
    )


def tracking_policy(
    name: str, alarm_names: tuple[str, ...], out: int = 300, in_: int = 900
) -> dict[str, Any]:
    return _policy(
        name,
        "TargetTrackingScaling",
        alarm_names,
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 8.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
            },
            "ScaleOutCooldown": out,
            "ScaleInCooldown": in_,
        },
    )


def policies(*items: dict[str, Any]) -> dict[str, Any]:
    return {"ScalingPolicies": list(items)}


def activity(
    start: datetime,
    description: str,
    status: str = "Successful",
    alarm_name: str | None = None,
    *,
    policy: str = "policy",
    not_scaled: tuple[str, ...] = (),
    message: str | None = None,
) -> dict[str, Any]:
    """One ScalingActivities item; with ``alarm_name``, caused by that alarm (worded as AWS words it)."""
    cause = (
        f"monitor alarm {alarm_name} in state ALARM triggered policy {policy}"
        if alarm_name
        else "user request update scalable target"
    )
    item: dict[str, Any] = {
        "ActivityId": f"id-{start.timestamp()}",
        "ServiceNamespace": "sagemaker",
        "ResourceId": COMPONENT_TARGET,
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        "Description": description,
        "Cause": cause,
        "StartTime": start,
        "StatusCode": status,
    }
    if message is not None:
        item["StatusMessage"] = message
    if not_scaled:
        item["NotScaledReasons"] = [{"Code": code} for code in not_scaled]
    return item


def activities(*items: dict[str, Any]) -> dict[str, Any]:
    return {"ScalingActivities": list(items)}


# --- CloudWatch Logs, SNS, Lambda ---------------------------------------------------------------------------


def log_events(*lines: tuple[datetime, str]) -> dict[str, Any]:
    return {
        "events": [
            {
                "logStreamName": "AllTraffic/i-1",
                "timestamp": int(at.timestamp() * 1000),
                "message": message,
                "eventId": str(n),
            }
            for n, (at, message) in enumerate(lines)
        ],
        "searchedLogStreams": [],
    }


def subscriptions(
    *arns: str, protocol: str = "email", endpoint: str = "oncall@example.com"
) -> dict[str, Any]:
    return {
        "Subscriptions": [
            {
                "SubscriptionArn": arn,
                "Owner": ACCOUNT,
                "Protocol": protocol,
                "Endpoint": endpoint,
                "TopicArn": TOPIC,
            }
            for arn in arns
        ]
    }


def function(state: str = "Active", update: str = "Successful", **extra: Any) -> dict[str, Any]:
    return {
        "FunctionName": FUNCTION,
        "State": state,
        "LastUpdateStatus": update,
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": FUNCTION_LOGS},
        **extra,
    }
